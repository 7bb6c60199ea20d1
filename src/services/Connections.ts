/**
 * The live connections of one actor, for fan-out.
 *
 * Backed by the WebSocket hibernation API: sockets accepted with `ctx.acceptWebSocket` survive
 * hibernation, and `ctx.getWebSockets()` finds them again after a wake. Each socket carries a
 * small serialized attachment (its connection id and actor) and nothing that changes often.
 *
 * Fan-out encodes the frame once and loops over a cached socket list: no per-recipient fiber.
 *
 * @since 0.1.0
 */
import { Context, Layer } from "effect"

export interface ConnectionsShape {
  /** Number of open connections. */
  readonly count: () => number
  /** Send one already-encoded frame to every connection except the given ids; returns recipients. */
  readonly broadcast: (frame: string, except?: ReadonlySet<string>) => number
  /** Close every connection with a code and reason; returns how many were closed. */
  readonly closeAll: (code: number, reason: string) => number
  /** Forget the cached socket list (after accepting or losing a socket). */
  readonly invalidate: () => void
}

export class Connections extends Context.Tag("durable-realtime/Connections")<Connections, ConnectionsShape>() {}

export interface SocketAttachment {
  readonly connectionId: string
}

const connectionIdOf = (socket: WebSocket): string | undefined =>
  (socket.deserializeAttachment() as SocketAttachment | null)?.connectionId

export const makeHibernating = (ctx: DurableObjectState): ConnectionsShape => {
  let cached: Array<{ socket: WebSocket; id: string | undefined }> | null = null
  const sockets = () => {
    // getWebSockets() builds a new array and each attachment read is a structured clone:
    // do both once per change of the socket set, not once per message.
    cached ??= ctx.getWebSockets().map((socket) => ({ socket, id: connectionIdOf(socket) }))
    return cached
  }
  return {
    count: () => sockets().length,
    broadcast: (frame, except) => {
      let sent = 0
      for (const entry of sockets()) {
        if (except !== undefined && entry.id !== undefined && except.has(entry.id)) continue
        try {
          entry.socket.send(frame)
          sent++
        } catch {
          // A socket closing under us is not the sender's problem; its close handler cleans up.
        }
      }
      return sent
    },
    closeAll: (code, reason) => {
      const all = sockets()
      for (const entry of all) {
        try {
          entry.socket.close(code, reason)
        } catch {
          // already closed
        }
      }
      cached = null
      return all.length
    },
    invalidate: () => {
      cached = null
    },
  }
}

export const layerHibernating = (ctx: DurableObjectState): Layer.Layer<Connections> =>
  Layer.sync(Connections, () => makeHibernating(ctx))
