/**
 * The example app in a real browser (Debian's Chromium driven by playwright-core), two browser
 * contexts as two people, against `wrangler dev`. Screenshots land in test-artifacts/.
 */
import type { BrowserContext, Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { DevServer } from "../../scripts/dev-server.js"
import { logIn as logInTo, openLivePage, shot, startBrowserSuite, unique, type BrowserSuite } from "./support.js"

let suite: BrowserSuite
let server: DevServer
let ada: BrowserContext
let bob: BrowserContext

beforeAll(async () => {
  suite = await startBrowserSuite("browser")
  server = suite.server
  ada = await logIn(await suite.browser.newContext(), "Ada")
  bob = await logIn(await suite.browser.newContext(), "Bob")
}, 90_000)

afterAll(async () => {
  await suite?.stop()
})

const logIn = (context: BrowserContext, name: string) => logInTo(server, context, name)
const open = (context: BrowserContext, path: string, user: string): Promise<Page> => openLivePage(server, context, path, user)

describe("example app in Chromium", () => {
  it("chat: messages, members and typing reach the other person within a second; a double click sends once", async () => {
    const room = unique("room")
    const adaPage = await open(ada, `/chat?room=${room}`, "Ada")
    const bobPage = await open(bob, `/chat?room=${room}`, "Bob")
    await expect.poll(() => adaPage.locator("#members li").allTextContents(), { timeout: 3000 }).toEqual(expect.arrayContaining(["Ada", "Bob"]))

    await adaPage.fill("#text", "hel")
    await expect.poll(() => bobPage.locator("#members li[data-typing=true]").allTextContents(), { timeout: 1000 }).toEqual(["Ada is typing…"])
    await adaPage.fill("#text", "hello Bob")
    const sentAt = Date.now()
    await adaPage.dblclick("#send")
    await expect.poll(() => bobPage.locator("#messages li span").allTextContents(), { timeout: 1000 }).toEqual(["hello Bob"])
    expect(Date.now() - sentAt).toBeLessThan(1000)
    await bobPage.waitForTimeout(300)
    expect(await bobPage.locator("#messages li span").allTextContents()).toEqual(["hello Bob"])
    expect(await adaPage.locator("#messages li span").allTextContents()).toEqual(["hello Bob"])

    // A reload catches up from history and the live stream continues.
    await bobPage.fill("#text", "hi Ada")
    await bobPage.click("#send")
    await bobPage.reload()
    await expect.poll(() => bobPage.locator("#status").getAttribute("data-state"), { timeout: 10_000 }).toBe("live")
    await expect.poll(() => bobPage.locator("#messages li span").allTextContents()).toEqual(["hello Bob", "hi Ada"])
    await shot(adaPage, "chat-ada")
    await shot(bobPage, "chat-bob")
    await adaPage.close()
    await bobPage.close()
  })

  it("editor: both people edit one document, converge, see each other's cursor, and restore a snapshot", async () => {
    const doc = unique("doc")
    const adaPage = await open(ada, `/editor?doc=${doc}`, "Ada")
    const bobPage = await open(bob, `/editor?doc=${doc}`, "Bob")
    const textOf = (page: Page) => page.evaluate(() => (window as unknown as { ydoc: { getText(name: string): { toString(): string } } }).ydoc.getText("codemirror").toString())

    await adaPage.click(".cm-content")
    await adaPage.keyboard.type("Hello from Ada.")
    await expect.poll(() => textOf(bobPage), { timeout: 3000 }).toBe("Hello from Ada.")
    await bobPage.click(".cm-content")
    await bobPage.keyboard.press("End")
    await bobPage.keyboard.type(" And Bob.")
    await expect.poll(() => textOf(adaPage), { timeout: 3000 }).toBe("Hello from Ada. And Bob.")
    expect(await textOf(bobPage)).toBe("Hello from Ada. And Bob.")
    await expect.poll(() => adaPage.locator(".cm-ySelectionInfo").allTextContents(), { timeout: 3000 }).toContain("Bob")
    await expect.poll(() => bobPage.locator(".cm-ySelectionInfo").allTextContents(), { timeout: 3000 }).toContain("Ada")
    await expect.poll(() => adaPage.locator("#peers").textContent()).toContain("Bob")

    await adaPage.click("#snapshot")
    await expect.poll(() => adaPage.locator("#snapshot-info").textContent()).toContain("Latest snapshot")
    await adaPage.click(".cm-content")
    await adaPage.keyboard.press("End")
    await adaPage.keyboard.type(" Then more.")
    await expect.poll(() => textOf(bobPage), { timeout: 3000 }).toContain("Then more.")
    await adaPage.click("#restore")
    await expect.poll(() => textOf(adaPage), { timeout: 3000 }).toBe("Hello from Ada. And Bob.")
    await expect.poll(() => textOf(bobPage), { timeout: 3000 }).toBe("Hello from Ada. And Bob.")
    // What the editor component shows, not just the Yjs document behind it.
    const shown = (page: Page) => page.evaluate(() => (window as unknown as { editorView: { state: { doc: { toString(): string } } } }).editorView.state.doc.toString())
    await expect.poll(() => shown(bobPage)).toBe("Hello from Ada. And Bob.")
    await expect.poll(() => shown(adaPage)).toBe("Hello from Ada. And Bob.")
    await shot(adaPage, "editor-ada")
    await shot(bobPage, "editor-bob")
    await adaPage.close()
    await bobPage.close()
  })

  it("dashboard: events arrive over SSE and a reload resumes after the last one shown", async () => {
    const channel = unique("deploys")
    const page = await open(ada, `/dashboard?channel=${channel}`, "Ada")
    for (let i = 0; i < 3; i++) await page.click("#publish")
    await expect.poll(() => page.locator("#total").textContent(), { timeout: 3000 }).toBe("3")
    await page.reload()
    await expect.poll(() => page.locator("#status").getAttribute("data-state"), { timeout: 10_000 }).toBe("live")
    await page.waitForTimeout(300)
    expect(await page.locator("#total").textContent()).toBe("0")
    await page.click("#publish")
    await expect.poll(() => page.locator("#events li").allTextContents(), { timeout: 3000 }).toEqual([expect.stringMatching(/^#4 /)])
    await shot(page, "dashboard")
    await page.close()
  })

  it("database feed: an insert, an update and a delete through the Database API show up for the tenant", async () => {
    const tenant = unique("tenant")
    const page = await open(bob, `/feed?tenant=${tenant}`, "Bob")
    const titles = () => page.locator("#posts .title").allTextContents()
    // Written by someone else (Ada's context), through the example's Database API routes.
    const writer = await ada.newPage()
    await writer.goto(server.url)
    const call = (path: string, method: string, body?: unknown) =>
      writer.evaluate(
        async ([path, method, body]) => {
          const response = await fetch(path as string, { method: method as string, headers: { "content-type": "application/json" }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) })
          return response.status
        },
        [path, method, body] as const,
      )
    expect(await call("/db/posts", "POST", { id: "p1", tenantId: tenant, title: "First post" })).toBe(201)
    expect(await call("/db/posts", "POST", { id: "p2", tenantId: `${tenant}-other`, title: "Not for this tenant" })).toBe(201)
    await expect.poll(titles, { timeout: 3000 }).toEqual(["First post"])
    expect(await call(`/db/posts/p1?tenantId=${tenant}`, "PATCH", { title: "First post, edited" })).toBe(200)
    await expect.poll(titles, { timeout: 3000 }).toEqual(["First post, edited"])
    await page.fill("#title", "Second post")
    await page.click("#new-post button")
    await expect.poll(titles, { timeout: 3000 }).toEqual(["First post, edited", "Second post"])
    expect(await call(`/db/posts/p1?tenantId=${tenant}`, "DELETE")).toBe(200)
    await expect.poll(titles, { timeout: 3000 }).toEqual(["Second post"])
    await shot(page, "feed")
    await writer.close()
    await page.close()
  })
})
