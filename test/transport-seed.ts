/**
 * Seed 004 ("Realtime") transcribed for the test Worker: each example as the document writes it,
 * changing the import and the router, plus the two adaptations the README names:
 *  - `identify` (fail closed: without it every connection is refused with 401);
 *  - the WebSocket handlers go to `createRealtime` at module scope instead of `upgrade()`, because
 *    the socket lives in a Durable Object that may wake in an isolate where the request never ran.
 * The test identity is a request header, which only a test may trust.
 */
import { Effect } from "effect"
import { createRealtime } from "../src/transport/index.js"

const identify = (request: Request) => {
  const id = request.headers.get("x-test-user")
  return id === null || id === "" ? null : { type: "user" as const, id }
}

// --- Server-Sent Events -------------------------------------------------------------------
const realtime = createRealtime({ driver: "sse", identify })
// In your SSE endpoint handler (returns a Web Standard Response):
export async function GET(request: Request) {
  const { response, stream } = realtime.sse(request)
  // Send events from anywhere in your app
  stream.send({ event: "notification", data: { message: "You have a new message" } })
  return response
}

// --- Publishing to SSE clients ------------------------------------------------------------
export async function publish(latestData: unknown, userId: string, order: unknown) {
  // Broadcast to all connected clients
  await realtime.broadcast({ event: "update", data: latestData })
  // Send to a specific user's connections
  await realtime.sendTo(userId, { event: "order-update", data: order })
}

// --- WebSocket support --------------------------------------------------------------------
export const closedSockets: Array<string> = []
const ws = createRealtime({
  driver: "websocket",
  identify,
  onMessage: async (socket, message) => {
    const data = JSON.parse(message)
    await socket.send(JSON.stringify({ echo: data }))
  },
  onClose: (socket) => {
    console.log("Client disconnected")
    closedSockets.push(socket.id)
  },
})
// Handle an upgrade request
export async function GET_WS(request: Request) {
  return ws.upgrade(request)
}

// The document's form, handlers passed at request time: refused loudly (see the header comment).
export async function GET_WS_INLINE(request: Request) {
  return ws.upgrade(request, {
    onMessage: async (socket, message) => {
      const data = JSON.parse(message)
      await socket.send(JSON.stringify({ echo: data }))
    },
    onClose: () => {
      console.log("Client disconnected")
    },
  })
}

// --- Channels -----------------------------------------------------------------------------
// Server-side handling:
ws.channel("orders", {
  onJoin: async (socket, userId) => {
    await ws.sendTo(socket, { event: "connected", data: { channel: "orders" } })
  },
})
export async function newOrder(order: unknown) {
  // Broadcast to everyone in a channel
  await ws.toChannel("orders").broadcast({ event: "new-order", data: order })
}

export const seedSse = realtime
export const seedWs = ws

// --- Small limits for the limit tests -------------------------------------------------------
export const limited = createRealtime({
  name: "transport-limits",
  driver: "websocket",
  identify,
  maxConnections: 3,
  heartbeat: 300,
  maxPayloadBytes: 1024,
  maxFrameBytes: 2048,
  rateLimit: { perSecond: 5, burst: 10 },
  onMessage: async (socket, message) => {
    if (message === "fail") throw new Error("refused by the handler")
    // The instance's own API from inside its hub: answered there, not by an RPC to itself.
    if (message === "stats") return socket.send(`stats ${JSON.stringify(await limitedApi().stats())}`)
    if (message === "bye") return void (await limitedApi().effect.close(socket).pipe(Effect.runPromise))
    socket.send(message === "whoami" ? `id ${socket.id}` : `got ${message}`)
  },
})
function limitedApi() {
  return limited
}
/** (channel, userId) pairs the room-1 onLeave hook saw, in this isolate (the hub's, in these tests). */
export const leftRoom: Array<string> = []
limited.channel("room-1", {
  onLeave: (_socket, userId) => {
    leftRoom.push(userId)
  },
})
export const limitedSse = createRealtime({ name: "transport-limits-sse", driver: "sse", identify, maxConnections: 2, heartbeat: 300, maxBufferedBytes: 16 * 1024 })
export const anonymous = createRealtime({ name: "transport-no-identify", driver: "sse" })
export const brokenIdentify = createRealtime({
  name: "transport-identify-throws",
  driver: "sse",
  identify: (request) => {
    if (request.headers.get("x-test-user") === "garbage") return { id: 42 } as never
    throw new Error("session store down")
  },
})

/** Fan-out measurement instances (default limits, nothing else connects to them). */
export const fanoutWs = createRealtime({ name: "transport-fanout-ws", driver: "websocket", identify })
export const fanoutSse = createRealtime({ name: "transport-fanout-sse", driver: "sse", identify })

/** The router of the test Worker for these examples. */
export const seedRoutes = async (request: Request): Promise<Response | undefined> => {
  const path = new URL(request.url).pathname
  switch (path) {
    case "/seed004/sse":
      return GET(request)
    case "/seed004/ws":
      return GET_WS(request)
    case "/seed004/ws-inline":
      return GET_WS_INLINE(request).catch((error: { _tag?: string; message?: string }) => Response.json({ error: { _tag: error._tag, message: error.message } }, { status: 500 }))
    case "/seed004/limits/ws":
      return limited.upgrade(request)
    case "/seed004/limits/sse":
      return limitedSse.sse(request).response
    case "/seed004/anonymous/sse":
      return anonymous.sse(request).response
    case "/seed004/fanout/ws":
      return fanoutWs.upgrade(request)
    case "/seed004/fanout/sse":
      return fanoutSse.sse(request).response
    case "/seed004/broken-identify/sse":
      return brokenIdentify.sse(request).response
    default:
      return undefined
  }
}
