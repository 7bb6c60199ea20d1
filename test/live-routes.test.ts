/**
 * The live routes answer their own paths and nothing else: every other request, also under the
 * route prefix, falls through to the app (`undefined`).
 */
import { createExecutionContext, env, SELF } from "cloudflare:test"
import { describe, expect, it } from "vitest"
import { liveHandler } from "../src/http/LiveRoutes.js"
import example, { live } from "../examples/worker.js"
import { login } from "./example-session.js"

describe("live.handler falls through for what it does not serve", () => {
  const handler = liveHandler()

  it("resolves undefined for app routes under the prefix, other methods, kinds and transports", async () => {
    const app = [
      ["POST", "/realtime/posts/token"],
      ["GET", "/realtime/posts/token"],
      ["GET", "/realtime"],
      ["GET", "/realtime/"],
      ["GET", "/realtime/live/rooms/r1"],
      ["GET", "/realtime/live/rooms/r1/ws/extra"],
      ["GET", "/realtime/live/rooms/r1/yjs"],
      ["GET", "/realtime/live/channels/c1/yjs"],
      ["GET", "/realtime/live/documents/d1/ws"],
      ["GET", "/realtime/live/constructor/x/ws"],
      ["GET", "/realtime/live/__proto__/x/ws"],
      ["POST", "/realtime/live/rooms/r1/ws"],
      ["DELETE", "/realtime/live/channels/c1/events"],
      ["GET", "/realtimeish/live/rooms/r1/ws"],
      ["GET", "/rooms/r1/messages"],
    ] as const
    for (const [method, path] of app) {
      expect(await handler(new Request(`http://example.com${path}`, { method }), {}), `${method} ${path}`).toBeUndefined()
      expect(await live.handler(new Request(`http://example.com${path}`, { method }))).toBeUndefined()
    }
  })

  it("still answers its own routes, with their errors", async () => {
    // A live route without a WebSocket upgrade: ours, so answered (400), not passed on.
    const response = await handler(new Request("http://example.com/realtime/live/rooms/r1/ws"))
    expect(response?.status).toBe(400)
    // No grant: refused by the live routes themselves (401, or 500 where no grant secret is set).
    const sse = await handler(new Request("http://example.com/realtime/live/channels/c1/events"))
    expect(sse).toBeInstanceOf(Response)
    expect([401, 500]).toContain(sse!.status)
    const yjs = await handler(new Request("http://example.com/realtime/live/crdt/d1/yjs"))
    expect(yjs?.status).toBe(400)
  })
})

describe("seed 003's POST /realtime/posts/token in the example app, under the live routes' prefix", () => {
  it("reaches the app's route: a grant for the session's tenant, and the socket opens with it", async () => {
    const ada = await login("Ada")
    const call = (headers: Record<string, string>) =>
      example.fetch!(new Request("https://api.example.com/realtime/posts/token", { method: "POST", headers }) as never, env as never, createExecutionContext())
    // The document's browser code: fetch("/realtime/posts/token", { method: "POST" }).then((response) => response.json())
    const response = await call({ cookie: ada.cookie })
    expect(response.status).toBe(200)
    const grant = (await response.json()) as { url: string; protocols: ReadonlyArray<string>; expiresAt: string }
    expect(grant.url).toMatch(/^wss:\/\/api\.example\.com\//)
    expect(grant.protocols).toHaveLength(2)
    expect(Date.parse(grant.expiresAt)).toBeGreaterThan(Date.now())
    // new WebSocket(grant.url, grant.protocols)
    const socket = await SELF.fetch(grant.url.replace(/^wss:/, "https:"), { headers: { Upgrade: "websocket", "Sec-WebSocket-Protocol": grant.protocols.join(", ") } })
    expect(socket.status).toBe(101)
    socket.webSocket?.accept()
    socket.webSocket?.close(1000, "done")
    // No session: the app's requireAuth refuses.
    expect((await call({})).status).toBe(401)
  })
})
