/**
 * A transport instance (seed 004) declared at module scope, imported by both scripts of the
 * cross-isolate topology. Its handlers say which isolate ran them, so a test can tell that they
 * ran in the objects' script, where the socket lives.
 */
import { createRealtime } from "../../src/transport/index.js"

/** Set by each script's main module: "objects" or "caller". */
export const here = { isolate: "unknown" }

export const xiTransport = createRealtime({
  name: "xi-transport",
  driver: "websocket",
  identify: (request) => {
    const id = new URL(request.url).searchParams.get("user")
    return id === null || id === "" ? null : { type: "user" as const, id }
  },
  onMessage: (socket, message) => {
    socket.send(JSON.stringify({ event: "echo", data: { message, ranIn: here.isolate, userId: socket.userId } }))
  },
})

xiTransport.channel("news", {
  onJoin: (socket, userId) => xiTransport.sendTo(socket, { event: "welcome", data: { userId, ranIn: here.isolate } }),
})
