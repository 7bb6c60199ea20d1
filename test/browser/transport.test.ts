/**
 * The transport page (seed 004) in Chromium against `wrangler dev`: a plain EventSource gets a
 * notification sent to its user, a plain WebSocket subscribed to "orders" gets a channel broadcast.
 */
import { execFileSync } from "node:child_process"
import { mkdirSync } from "node:fs"
import { join } from "node:path"
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startExampleApp, type DevServer } from "../../scripts/dev-server.js"

const root = join(import.meta.dirname, "../..")
const artifacts = join(root, "test-artifacts")
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium"

let server: DevServer
let browser: Browser
let ada: BrowserContext
let bob: BrowserContext

beforeAll(async () => {
  mkdirSync(artifacts, { recursive: true })
  execFileSync(process.execPath, [join(root, "scripts/build-example.mjs")], { cwd: root, stdio: "inherit" })
  server = await startExampleApp({ label: "transport" })
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  })
  ada = await browser.newContext()
  bob = await browser.newContext()
}, 90_000)

afterAll(async () => {
  await browser?.close()
  await server?.stop()
})

/** Log a browser context in (POST /login): the session cookie identifies both its connections. */
const logIn = async (context: BrowserContext, name: string) => {
  const response = await context.request.post(`${server.url}/login`, { data: { name } })
  expect(response.status()).toBe(200)
}

const open = async (context: BrowserContext, user: string): Promise<Page> => {
  await logIn(context, user)
  const page = await context.newPage()
  page.on("pageerror", (error) => console.error(`[${user}] page error: ${error.message}`))
  await page.goto(`${server.url}/transport`)
  await expect.poll(() => page.locator("#me").textContent(), { timeout: 10_000 }).toBe(user)
  await expect.poll(() => page.locator("#status").getAttribute("data-state"), { timeout: 10_000 }).toBe("live")
  return page
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
    await adaPage.screenshot({ path: join(artifacts, "transport-ada.png"), fullPage: true })
    await bobPage.screenshot({ path: join(artifacts, "transport-bob.png"), fullPage: true })
    await adaPage.close()
    await bobPage.close()
  })
})
