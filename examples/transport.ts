/**
 * The transport API of seed 004 in the example app: notifications over Server-Sent Events and an
 * "orders" channel over WebSockets, for a page that uses a plain `EventSource` and a plain
 * `WebSocket` (examples/web/transport.ts).
 *
 * Who the user is comes from the session cookie (routes/session.ts, `POST /login`): no query
 * parameter or header names the person.
 */
import { createRealtime, toResponse, Unauthorized, type TransportSocket } from "../src/transport/index.js"
import { currentUser } from "./routes/session.js"

/** The session's person, as every route of the example app sees it (the same `identify` as `live`). */
const identify = currentUser

/** Notifications: one SSE stream per open page. */
export const notifications = createRealtime({ name: "example-notifications", driver: "sse", identify })

/** Sockets: declared with their handlers at module scope, so the hub finds them after hibernation. */
export const sockets = createRealtime({
  name: "example-sockets",
  driver: "websocket",
  identify,
  onMessage: async (socket: TransportSocket, message: string) => {
    socket.send(JSON.stringify({ event: "echo", data: { from: socket.user.name ?? socket.userId, text: message } }))
  },
})

sockets.channel("orders", {
  onJoin: async (socket) => {
    await sockets.sendTo(socket, { event: "connected", data: { channel: "orders" } })
  },
})

const readJson = async (request: Request): Promise<Record<string, unknown>> => {
  const body = (await request.json().catch(() => null)) as unknown
  return body !== null && typeof body === "object" && !Array.isArray(body) ? (body as Record<string, unknown>) : {}
}

/** `/transport/*` routes; `undefined` for any other path. */
export const transportRoutes = async (request: Request, url: URL): Promise<Response | undefined> => {
  if (!url.pathname.startsWith("/transport/")) return undefined
  const route = `${request.method} ${url.pathname}`
  if (route === "GET /transport/events") {
    const { response, stream } = notifications.sse(request)
    void stream.send({ event: "notification", data: { message: "Connected: notifications arrive here" } })
    return response
  }
  if (route === "GET /transport/ws") return sockets.upgrade(request)
  if (route === "POST /transport/notify" || route === "POST /transport/orders") {
    // Writes need a session; the person is the session's, never a body field.
    const user = await currentUser(request)
    if (user === undefined) return toResponse(new Unauthorized({ reason: "missing", message: "log in first (POST /login)" }))
    const body = await readJson(request)
    if (route === "POST /transport/orders") {
      const order = { id: crypto.randomUUID().slice(0, 8), item: String(body.item ?? "coffee").slice(0, 80), by: user.name ?? user.id }
      return Response.json(await sockets.toChannel("orders").broadcast({ event: "new-order", data: order }))
    }
    const event = { event: "notification", data: { message: String(body.message ?? "Hello").slice(0, 200), from: user.name ?? user.id } }
    // `everyone`: broadcast to every stream; otherwise sendTo(my user id): every tab of mine, nobody else's.
    return Response.json(body.everyone === true ? await notifications.broadcast(event) : await notifications.sendTo(user.id, event))
  }
  return new Response("not found", { status: 404 })
}
