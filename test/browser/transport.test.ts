/**
 * The transport page (seed 004) in Chromium against `wrangler dev`: a plain EventSource gets a
 * notification sent to its user, a plain WebSocket subscribed to "orders" gets a channel broadcast.
 */
import type { BrowserContext, Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { DevServer } from "../../scripts/dev-server.js"
import { logIn, openLivePage, shot, startBrowserSuite, type BrowserSuite } from "./support.js"

let suite: BrowserSuite
let server: DevServer
let ada: BrowserContext
let bob: BrowserContext

beforeAll(async () => {
  suite = await startBrowserSuite("transport")
  server = suite.server
  ada = await suite.browser.newContext()
  bob = await suite.browser.newContext()
}, 90_000)

afterAll(async () => {
  await suite?.stop()
})

/** Log in (the session cookie identifies both its connections), then open the transport page. */
const open = async (context: BrowserContext, user: string): Promise<Page> => {
  await logIn(server, context, user)
  return openLivePage(server, context, "/transport", user)
}

describe("transport page in Chromium", () => {
  it("an SSE notification sent to a user reaches only that user, a broadcast reaches everyone, a WebSocket channel broadcast reaches every subscriber, and the socket echoes", async () => {
    const user = (name: string) => `${name}${Date.now().toString(36)}`
    const adaName = user("Ada")
    const bobName = user("Bob")
    const adaPage = await open(ada, adaName)
    const bobPage = await open(bob, bobName)
    // Each stream got the welcome notification the route sends as it opens.
    await expect.poll(() => bobPage.locator("#notifications li").allTextContents()).toContain("Connected: notifications arrive here")

    // sendTo(my user id): Bob's own notification reaches Bob, not Ada.
    await bobPage.fill("#message", "Your order shipped")
    await bobPage.click("#notify-me")
    await expect.poll(() => bobPage.locator("#notifications li").allTextContents(), { timeout: 3000 }).toContain(`Your order shipped (from ${bobName})`)
    // broadcast: Ada's reaches both.
    await adaPage.fill("#message", "Lunch is here")
    await adaPage.click("#notify-all")
    for (const page of [adaPage, bobPage]) {
      await expect.poll(() => page.locator("#notifications li").allTextContents(), { timeout: 3000 }).toContain(`Lunch is here (from ${adaName})`)
    }

    await adaPage.fill("#item", "green tea")
    await adaPage.click("#order")
    for (const page of [adaPage, bobPage]) {
      await expect.poll(() => page.locator("#orders li").allTextContents(), { timeout: 3000 }).toEqual([expect.stringMatching(new RegExp(`^green tea \\(#[0-9a-f]{8}\\) by ${adaName}$`))])
    }
    await bobPage.fill("#echo-text", "ping from bob")
    await bobPage.click("#echo")
    await expect.poll(() => bobPage.locator("#echoes li").allTextContents(), { timeout: 3000 }).toEqual([`${bobName}: ping from bob`])

    // sendTo(user) went to Bob only.
    expect(await adaPage.locator("#notifications li").allTextContents()).not.toContain(`Your order shipped (from ${bobName})`)
    await shot(adaPage, "transport-ada")
    await shot(bobPage, "transport-bob")
    await adaPage.close()
    await bobPage.close()
  })
})
