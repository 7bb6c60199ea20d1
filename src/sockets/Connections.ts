/**
 * The live connections of one actor, for fan-out.
 *
 * Backed by the WebSocket hibernation API: sockets accepted with `ctx.acceptWebSocket` survive
 * hibernation, and `ctx.getWebSockets()` finds them again after a wake. Each socket carries a
 * small serialized attachment (`Attachment.ts`: its connection id and actor) and nothing that
 * changes often. Sockets of a protocol other than the object's default (y-websocket in a CRDT
 * room) carry its name and are skipped by `broadcast` and `sendTo`: they get their own frames
 * (`Sockets.fanOut`).
 *
 * Fan-out encodes the frame once and loops over a cached socket list: no per-recipient fiber.
 *
 * @since 0.1.0
 */
import { Context } from "effect"
import { readAttachment, type SocketAttachment } from "./Attachment.js"
import { closeSocket, sendFrame } from "./CloseCodes.js"

export type { SocketAttachment } from "./Attachment.js"

export interface ConnectionsShape {
  /** Number of open connections. */
  readonly count: () => number
  /** Send one already-encoded frame to every connection except the given ids (one id, or a set); returns recipients. */
  readonly broadcast: (frame: string, except?: ReadonlySet<string> | string) => number
  /** Close every connection with a code and reason; returns how many were closed. */
  readonly closeAll: (code: number, reason: string) => number
  /** Forget the cached socket list (after losing a socket). */
  readonly invalidate: () => void
  /**
   * A socket was just accepted with this attachment: append it to the cached list instead of
   * re-reading every socket's attachment (which made N connects cost O(N²) deserializations).
   */
  readonly added: (socket: WebSocket, attachment: SocketAttachment) => void
  /** Open sockets with their attachments (cached). */
  readonly list: () => ReadonlyArray<ConnectionEntry>
  /** Send one encoded frame to every connection of one actor id; returns recipients. */
  readonly sendTo: (actorId: string, frame: string) => number
  /**
   * Non-socket subscribers (SSE streams) that take part in fan-out. They live only as long as
   * the object is in memory, which an open stream guarantees.
   */
  readonly addSink: (sink: ConnectionSink) => void
  readonly removeSink: (id: string) => void
  readonly sinks: () => ReadonlyArray<ConnectionSink>
}

/** A fan-out target that is not a hibernatable socket (an SSE stream). */
export interface ConnectionSink {
  readonly id: string
  readonly actorId: string
  readonly send: (frame: string) => void
  readonly close: (code: number, reason: string) => void
}

/** One open socket and its attachment. */
export interface ConnectionEntry {
  readonly socket: WebSocket
  readonly id: string | undefined
  readonly attachment: SocketAttachment | null
}

export class Connections extends Context.Tag("durable-realtime/Connections")<Connections, ConnectionsShape>() {}

/** Whether `id` is one of the excluded: a socket's broadcast excludes its own connection, without a Set per frame. */
const excluded = (except: ReadonlySet<string> | string | undefined, id: string | undefined): boolean =>
  except !== undefined && id !== undefined && (typeof except === "string" ? except === id : except.has(id))

export const makeHibernating = (ctx: DurableObjectState): ConnectionsShape => {
  let cached: Array<ConnectionEntry> | null = null
  const sinks = new Map<string, ConnectionSink>()
  const sockets = () => {
    // getWebSockets() builds a new array and each attachment read is a structured clone:
    // do both once per change of the socket set, not once per message.
    cached ??= ctx.getWebSockets().map((socket) => {
      const attachment = readAttachment(socket)
      return { socket, id: attachment?.connectionId, attachment }
    })
    return cached
  }
  const sendSinks = (frame: string, except: ReadonlySet<string> | string | undefined, actorId?: string) => {
    let sent = 0
    for (const sink of sinks.values()) {
      if (excluded(except, sink.id)) continue
      if (actorId !== undefined && sink.actorId !== actorId) continue
      try {
        sink.send(frame)
        sent++
      } catch {
        // a stream that broke is removed by its own cancel handler
      }
    }
    return sent
  }
  return {
    count: () => sockets().length + sinks.size,
    list: () => sockets(),
    sinks: () => [...sinks.values()],
    addSink: (sink) => {
      sinks.set(sink.id, sink)
    },
    removeSink: (id) => {
      sinks.delete(id)
    },
    sendTo: (actorId, frame) => {
      let sent = sendSinks(frame, undefined, actorId)
      for (const entry of sockets()) {
        if (entry.attachment?.actorId === actorId && entry.attachment.protocol === undefined && sendFrame(entry.socket, frame)) sent++
      }
      return sent
    },
    broadcast: (frame, except) => {
      let sent = sinks.size === 0 ? 0 : sendSinks(frame, except)
      for (const entry of sockets()) {
        if (excluded(except, entry.id)) continue
        if (entry.attachment?.protocol === undefined && sendFrame(entry.socket, frame)) sent++
      }
      return sent
    },
    closeAll: (code, reason) => {
      for (const sink of [...sinks.values()]) {
        try {
          sink.close(code, reason)
        } catch {
          // already closed
        }
      }
      const closedSinks = sinks.size
      sinks.clear()
      const all = sockets()
      for (const entry of all) closeSocket(entry.socket, { code, reason })
      cached = null
      return all.length + closedSinks
    },
    invalidate: () => {
      cached = null
    },
    added: (socket, attachment) => {
      cached?.push({ socket, id: attachment.connectionId, attachment })
    },
  }
}
