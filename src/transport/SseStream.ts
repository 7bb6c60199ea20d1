/**
 * One Server-Sent Events connection of the transport hub, with a bounded buffer.
 *
 * The stream is the hub's own `ReadableStream` with a byte-length queuing strategy: every event is
 * queued until the runtime sends it on, and `desiredSize` says how far the reader is behind. A
 * reader more than `maxBufferedBytes` behind is dropped (its stream ends with a comment saying
 * why; the client's `EventSource` reconnects) rather than letting its backlog grow in the
 * object's memory.
 *
 * Wire: `event: <event>` / `data: <JSON of data>` per event, so
 * `EventSource.addEventListener("<event>", ...)` fires; heartbeats are comment lines.
 *
 * @since 0.1.0
 */
import type { TransportEvent } from "./Schema.js"

const encoder = new TextEncoder()

/** The socket frame of an event: `{"event":"...","data":...}`. Sockets and streams get the same one. */
export const eventFrame = (event: TransportEvent): string => JSON.stringify({ event: event.event, data: event.data ?? null })

/** The SSE bytes of a socket frame. The frame is our own `eventFrame` output. */
export const sseBytesOfFrame = (frame: string): Uint8Array => {
  const parsed = JSON.parse(frame) as { readonly event: string; readonly data: unknown }
  return encoder.encode(`event: ${parsed.event}\ndata: ${JSON.stringify(parsed.data)}\n\n`)
}

export const HEARTBEAT_COMMENT = encoder.encode(": heartbeat\n\n")
const OPENED_COMMENT = encoder.encode(": connected\n\n")
const FELL_BEHIND_COMMENT = encoder.encode(": closing: this reader fell too far behind (maxBufferedBytes); reconnect\n\n")

export interface SseStream {
  readonly body: ReadableStream<Uint8Array>
  /** Queue bytes; false when the stream is closed or was just dropped for falling behind. */
  readonly write: (bytes: Uint8Array) => boolean
  /** End the stream after what is queued. */
  readonly close: () => void
  readonly isOpen: () => boolean
}

export const makeSseStream = (options: {
  readonly maxBufferedBytes: number
  /** Called once when the stream ends for any reason (reader gone, dropped, closed). */
  readonly onEnd: (reason: "cancelled" | "overflow" | "closed") => void
}): SseStream => {
  let controller: ReadableStreamDefaultController<Uint8Array> | undefined
  let open = true
  const end = (reason: "cancelled" | "overflow" | "closed") => {
    if (!open) return
    open = false
    options.onEnd(reason)
  }
  const body = new ReadableStream<Uint8Array>(
    {
      start: (c) => {
        controller = c
      },
      cancel: () => end("cancelled"),
    },
    new ByteLengthQueuingStrategy({ highWaterMark: options.maxBufferedBytes }),
  )
  const write = (bytes: Uint8Array) => {
    if (!open || controller === undefined) return false
    try {
      controller.enqueue(bytes)
    } catch {
      end("cancelled")
      return false
    }
    if ((controller.desiredSize ?? 0) < 0) {
      // More than maxBufferedBytes queued: this reader is not keeping up. End its stream with a
      // comment saying why (past the bound on purpose: it is small); nothing more is queued, and
      // the client's EventSource reconnects on its own.
      try {
        controller.enqueue(FELL_BEHIND_COMMENT)
        controller.close()
      } catch {
        // already closed
      }
      end("overflow")
      return false
    }
    return true
  }
  write(OPENED_COMMENT)
  return {
    body,
    write,
    close: () => {
      if (!open) return
      try {
        controller?.close()
      } catch {
        // already closed
      }
      end("closed")
    },
    isOpen: () => open,
  }
}
