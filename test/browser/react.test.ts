/**
 * The React example pages (on `durable-realtime/react`, mounted under Strict Mode in a development
 * build) and the inspector in Debian's Chromium against `wrangler dev`: two people chatting with
 * members and throttled cursors, two editors converging, the table feed, and the inspector
 * showing the room the two people are in. Also: the Worker's bundle holds nothing of React.
 */
import { join } from "node:path"
import { build } from "esbuild"
import type { BrowserContext, Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { DevServer } from "../../scripts/dev-server.js"
import { subscribeTable, type TableChange, type TableStatus } from "../../src/client/index.js"
import { logIn as logInTo, openLivePage, shot, startBrowserSuite, unique, type BrowserSuite } from "./support.js"

const root = join(import.meta.dirname, "../..")

let suite: BrowserSuite
let server: DevServer
let ada: BrowserContext
let bob: BrowserContext

beforeAll(async () => {
  suite = await startBrowserSuite("react")
  server = suite.server
  ada = await logIn(await suite.browser.newContext(), "Ada")
  bob = await logIn(await suite.browser.newContext(), "Bob")
}, 90_000)

afterAll(async () => {
  await suite?.stop()
})

const logIn = (context: BrowserContext, name: string) => logInTo(server, context, name)

/** A page of the app as `user`; its room sockets and the presence frames it sends are counted. */
const open = async (context: BrowserContext, path: string, user: string) => {
  const sockets: Array<string> = []
  const presenceFrames: Array<number> = []
  const page = await openLivePage(server, context, path, user, (page: Page) =>
    page.on("websocket", (socket) => {
      sockets.push(socket.url())
      socket.on("framesent", (frame) => {
        if (typeof frame.payload === "string" && frame.payload.startsWith('{"type":"presence"')) presenceFrames.push(Date.now())
      })
    }),
  )
  return { page, sockets, presenceFrames }
}

describe("React example pages in Chromium", () => {
  it("chat: two people see each other's messages, members and throttled cursors; the inspector shows their room with 2 members", async () => {
    const room = unique("react-room")
    const adaTab = await open(ada, `/react-chat?room=${room}`, "Ada")
    const bobTab = await open(bob, `/react-chat?room=${room}`, "Bob")
    const [adaPage, bobPage] = [adaTab.page, bobTab.page]
    await expect.poll(() => adaPage.locator("#members li").allTextContents(), { timeout: 3000 }).toEqual(expect.arrayContaining(["Ada", "Bob"]))
    await expect.poll(() => bobPage.locator("#members li").allTextContents(), { timeout: 3000 }).toEqual(expect.arrayContaining(["Ada", "Bob"]))

    await adaPage.fill("#text", "hello Bob")
    await expect.poll(() => bobPage.locator("#members li[data-typing=true]").allTextContents(), { timeout: 2000 }).toEqual(["Ada is typing…"])
    await adaPage.dblclick("#send")
    await expect.poll(() => bobPage.locator("#messages li span").allTextContents(), { timeout: 2000 }).toEqual(["hello Bob"])
    await bobPage.fill("#text", "hi Ada")
    await bobPage.press("#text", "Enter")
    await expect.poll(() => adaPage.locator("#messages li span").allTextContents(), { timeout: 2000 }).toEqual(["hello Bob", "hi Ada"])

    // An ephemeral event (broadcast → useEvent) reaches the other person only.
    await adaPage.click("#wave")
    await expect.poll(() => bobPage.locator("#wave-note").textContent(), { timeout: 2000 }).toBe("Ada waved")
    expect(await adaPage.locator("#wave-note").textContent()).toBe("")

    // 40 pointer moves in about 200 ms: Bob sees Ada's last position; Ada sent a handful of frames.
    const board = await adaPage.locator("#board").boundingBox()
    const before = adaTab.presenceFrames.length
    const startedAt = Date.now()
    for (let i = 1; i <= 40; i++) await adaPage.mouse.move(board!.x + 5 + i * 5, board!.y + 10 + i)
    const movedFor = Date.now() - startedAt
    const cursor = bobPage.locator('#board .cursor[data-user="Ada"]')
    const position = async () => [Number(await cursor.getAttribute("data-x")), Number(await cursor.getAttribute("data-y"))]
    // Within a pixel: the board's box may sit at a fractional offset.
    await expect.poll(async () => (await position()).every((value, i) => Math.abs(value - [205, 50][i]) <= 1), { timeout: 2000 }).toBe(true)
    const sent = adaTab.presenceFrames.length - before
    expect(sent).toBeGreaterThanOrEqual(1)
    // Default throttle 50 ms: at most one frame per interval, plus the leading and trailing ones.
    expect(sent).toBeLessThanOrEqual(Math.ceil(movedFor / 50) + 2)
    expect(sent).toBeLessThan(40)

    // Strict Mode mounted every effect twice: still one room socket per tab.
    expect(adaTab.sockets.filter((url) => url.includes(`/rooms/${room}/ws`))).toHaveLength(1)
    expect(bobTab.sockets.filter((url) => url.includes(`/rooms/${room}/ws`))).toHaveLength(1)
    await shot(adaPage, "react-chat-ada")
    await shot(bobPage, "react-chat-bob")

    // The inspector lists the room with 2 members and 2 connections, and shows who is in it.
    const inspector = await open(ada, "/inspector", "Ada")
    const row = inspector.page.locator(`#resources tr[data-id="${room}"]`)
    await expect.poll(() => row.locator('[data-stat="members"]').textContent(), { timeout: 5000 }).toBe("2")
    expect(await row.locator('[data-stat="connections"]').textContent()).toBe("2")
    expect(await row.getAttribute("data-kind")).toBe("room")
    await row.click()
    await expect.poll(() => inspector.page.locator("#detail-members li").evaluateAll((items) => items.map((item) => item.getAttribute("data-member")).sort()), { timeout: 3000 }).toEqual(["Ada", "Bob"])
    await expect.poll(() => inspector.page.locator("#detail-messages li").count(), { timeout: 3000 }).toBe(2)
    await shot(inspector.page, "inspector")

    // Destroy from the inspector: both chats are closed for good.
    await inspector.page.click("#destroy")
    await expect.poll(() => bobPage.locator("#status").getAttribute("data-state"), { timeout: 5000 }).toBe("closed")
    await expect.poll(() => adaPage.locator("#status").getAttribute("data-state"), { timeout: 5000 }).toBe("closed")
    await expect.poll(() => bobPage.locator("#error").textContent()).toBe("This room was closed.")
    for (const page of [adaPage, bobPage, inspector.page]) await page.close()
  })

  it("editor: two React editors on useYDoc converge", async () => {
    const doc = unique("react-doc")
    const { page: adaPage } = await open(ada, `/react-editor?doc=${doc}`, "Ada")
    const { page: bobPage } = await open(bob, `/react-editor?doc=${doc}`, "Bob")
    const textOf = (page: Page) => page.evaluate(() => (window as unknown as { ydoc: { getText(name: string): { toString(): string } } }).ydoc.getText("codemirror").toString())
    const shown = (page: Page) => page.evaluate(() => (window as unknown as { editorView: { state: { doc: { toString(): string } } } }).editorView.state.doc.toString())
    await adaPage.click(".cm-content")
    await adaPage.keyboard.type("Hello from Ada.")
    await expect.poll(() => textOf(bobPage), { timeout: 3000 }).toBe("Hello from Ada.")
    await bobPage.click(".cm-content")
    await bobPage.keyboard.press("End")
    await bobPage.keyboard.type(" And Bob.")
    await expect.poll(() => shown(adaPage), { timeout: 3000 }).toBe("Hello from Ada. And Bob.")
    expect(await shown(bobPage)).toBe("Hello from Ada. And Bob.")
    // Awareness through the hook's provider: each sees the other.
    await expect.poll(() => adaPage.locator("#peers").textContent(), { timeout: 3000 }).toContain("Bob")
    await expect.poll(() => bobPage.locator("#peers").textContent(), { timeout: 3000 }).toContain("Ada")
    await expect.poll(() => adaPage.locator(".cm-ySelectionInfo").allTextContents(), { timeout: 3000 }).toContain("Bob")
    // One editor (not two) under Strict Mode: one CodeMirror instance in the page.
    expect(await adaPage.locator(".cm-editor").count()).toBe(1)
    await shot(adaPage, "react-editor-ada")
    await adaPage.close()
    await bobPage.close()
  })

  it("feed: useTable shows an insert, an update and a delete; the inspector lists the tenant's hub", async () => {
    const tenant = unique("react-tenant")
    const { page } = await open(bob, `/react-feed?tenant=${tenant}`, "Bob")
    const titles = () => page.locator("#posts .title").allTextContents()
    const writer = await ada.newPage()
    await writer.goto(server.url)
    const call = (path: string, method: string, body?: unknown) =>
      writer.evaluate(
        async ([path, method, body]) => (await fetch(path as string, { method: method as string, headers: { "content-type": "application/json" }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) })).status,
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
    expect(await page.locator("#count").textContent()).toBe("1")
    await shot(page, "react-feed")
    // The inspector lists this tenant's hub of the partitioned posts table with its one subscriber
    // (hubs report to the database's directory; the list is paged, 20 hubs a page).
    const inspector = await open(ada, "/inspector", "Ada")
    const hubRow = inspector.page.locator(`[data-hubs="app"] tr[data-table="posts"]`, { hasText: `"tenantId":"${tenant}"` })
    await expect
      .poll(async () => {
        if ((await hubRow.count()) === 1) return await hubRow.locator('[data-stat="subscribers"]').textContent()
        const next = inspector.page.locator(`[data-hubs="app"] button`, { hasText: "Next hubs" })
        if (await next.isEnabled()) await next.click()
        return undefined
      }, { timeout: 8000 })
      .toBe("1")
    await inspector.page.close()
    await writer.close()
    await page.close()
  })
})

describe("subscribeTable in Node", () => {
  it("follows a table over Node's own WebSocket: snapshot, then changes, each once", async () => {
    // Log in like a browser does and keep the session cookie for the grant route.
    const login = await fetch(`${server.url}/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "Node" }) })
    expect(login.status).toBe(200)
    const cookie = login.headers.get("set-cookie")!.split(";")[0]
    const tenant = unique("node-tenant")
    const request = (path: string, method: string, body?: unknown) =>
      fetch(`${server.url}${path}`, { method, headers: { "content-type": "application/json", cookie }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) })
    expect((await request("/db/posts", "POST", { id: "n1", tenantId: tenant, title: "Before" })).status).toBe(201)

    type Post = { id: string; title: string }
    const rows = new Map<string, Post>()
    const changes: Array<TableChange<Post>> = []
    const statuses: Array<TableStatus> = []
    let grants = 0
    const stream = subscribeTable<Post>({
      grant: async () => {
        grants++
        return (await request("/db/grants", "POST", { tenantId: tenant })).json()
      },
      baseUrl: server.url,
      onSnapshot: ({ rows: page }) => {
        rows.clear()
        for (const row of page) rows.set(row.id, row)
      },
      onChange: (change) => {
        changes.push(change)
        if (change.new === null) rows.delete(change.old!.id)
        else rows.set(change.new.id, change.new)
      },
      onStatus: (status) => statuses.push(status),
    })
    await expect.poll(() => stream.status(), { timeout: 5000 }).toBe("live")
    expect([...rows.values()].map((row) => row.title)).toEqual(["Before"])
    expect((await request("/db/posts", "POST", { id: "n2", tenantId: tenant, title: "After" })).status).toBe(201)
    expect((await request(`/db/posts/n1?tenantId=${tenant}`, "DELETE")).status).toBe(200)
    await expect.poll(() => changes.length, { timeout: 3000 }).toBe(2)
    expect(changes.map((change) => change.event)).toEqual(["insert", "delete"])
    expect([...rows.values()].map((row) => row.title)).toEqual(["After"])
    expect(grants).toBe(1)
    stream.close()
    expect(statuses.at(-1)).toBe("closed")
  })
})

describe("server bundle", () => {
  it("the example Worker's bundle contains nothing of durable-realtime/react or React", async () => {
    const result = await build({
      entryPoints: [join(root, "examples/worker.ts")],
      bundle: true,
      write: false,
      metafile: true,
      format: "esm",
      platform: "neutral",
      conditions: ["workerd", "worker"],
      mainFields: ["module", "main"],
      external: ["cloudflare:*", "node:*"],
      logLevel: "silent",
    })
    const inputs = Object.keys(result.metafile.inputs)
    expect(inputs.some((path) => path.includes("examples/worker.ts"))).toBe(true)
    expect(inputs.filter((path) => path.includes("src/react/") || /node_modules\/react(-dom)?\//.test(path))).toEqual([])
  })
})
