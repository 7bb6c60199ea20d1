/**
 * The transport API of seed 004 in the example app: notifications over Server-Sent Events and an
 * "orders" channel over WebSockets, for a page that uses a plain `EventSource` and a plain
 * `WebSocket` (examples/web/transport.ts).
 *
 * Who the user is comes from the session cookie (routes/session.ts, `POST /login`): no query
 * parameter or header names the person.
 */
import { createRealtime, type TransportSocket } from "../src/transport/index.js"
import { currentUser } from "./routes/session.js"

const identify = async (request: Request) => {
  const user = await currentUser(request)
  return user === undefined ? null : { id: user.id, ...(user.name === undefined ? {} : { name: user.name }) }
}

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
  if (route === "POST /transport/notify") {
    const body = await readJson(request)
    const event = { event: "notification", data: { message: String(body.message ?? "Hello") } }
    const to = typeof body.to === "string" && body.to !== "" ? body.to.toLowerCase() : undefined
    return Response.json(to === undefined ? await notifications.broadcast(event) : await notifications.sendTo(to, event))
  }
  if (route === "POST /transport/orders") {
    const body = await readJson(request)
    // "by" is the session's person, not a name the client typed (a body `by` is ignored).
    const user = await currentUser(request)
    const order = { id: crypto.randomUUID().slice(0, 8), item: String(body.item ?? "coffee"), by: user?.name ?? "someone" }
    return Response.json(await sockets.toChannel("orders").broadcast({ event: "new-order", data: order }))
  }
  return new Response("not found", { status: 404 })
}
