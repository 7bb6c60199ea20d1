/**
 * The one Server-Sent Events writer: rooms and channels (`actors/live/LiveSse.ts`) and the transport
 * hub (`transport/Hub.ts`) both stream through it.
 *
 * An open stream keeps its object in memory (HTTP responses do not hibernate), so every stream is
 * bounded: its body is a `ReadableStream` with a byte-length queuing strategy, and the bytes queued
 * there are the bytes its reader has not taken yet. A write that would take the queue past
 * `maxBufferedBytes` drops the reader instead: the stream gets its last words (small, and past the
 * bound on purpose: they say why) and ends; the client reconnects (and resumes, where the
 * protocol has positions) rather than letting its backlog grow in the object's memory.
 *
 * `makeSseStreams` keeps the open streams of one object: they take part in the `Connections`
 * fan-out as sinks, get the heartbeat comment, and report how much is queued for them.
 *
 * @since 0.1.0
 */
import type { ConnectionsShape } from "../sockets/Connections.js"

const encoder = new TextEncoder()

/** Response headers of every SSE stream: no caching, no proxy buffering. */
export const SSE_HEADERS: Readonly<Record<string, string>> = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache, no-transform",
  "x-accel-buffering": "no",
}

/** A comment line (`: text`): readers ignore it; it keeps proxies from timing the stream out. */
export const sseComment = (text: string): Uint8Array => encoder.encode(`: ${text}\n\n`)

export const HEARTBEAT_COMMENT = sseComment("heartbeat")

/** One event: `id:` (when given), `event:` and one `data:` line. `data` must hold no newline (JSON text does not). */
export const sseEventText = (event: string, data: string, id?: string): string =>
  `${id === undefined ? "" : `id: ${id}\n`}event: ${event}\ndata: ${data}\n\n`

/** Why a stream ended: the reader went away, it fell behind, or the server ended it. */
export type SseEndReason = "cancelled" | "overflow" | "closed"

export interface SseWriter {
  /** The response body. */
  readonly body: ReadableStream<Uint8Array>
  /** Queue bytes; false when the stream is closed or was just dropped for falling behind. */
  readonly write: (bytes: Uint8Array) => boolean
  /** End the stream after what is queued, with last words (past the bound on purpose). */
  readonly end: (lastWords?: Uint8Array) => void
  /** Bytes queued that the reader has not taken yet. */
  readonly queuedBytes: () => number
  readonly isOpen: () => boolean
}

export const makeSseWriter = (options: {
  readonly maxBufferedBytes: number
  /** What a reader that fell behind reads last (a comment saying why, a close event). */
  readonly fellBehind: Uint8Array
  /** Called once when the stream ends, whatever the reason. */
  readonly onEnd: (reason: SseEndReason) => void
}): SseWriter => {
  const { maxBufferedBytes } = options
  let controller: ReadableStreamDefaultController<Uint8Array> | undefined
  let open = true
  const finish = (reason: SseEndReason) => {
    if (!open) return
    open = false
    options.onEnd(reason)
  }
  const body = new ReadableStream<Uint8Array>(
    {
      start: (c) => {
        controller = c
      },
      cancel: () => finish("cancelled"),
    },
    new ByteLengthQueuingStrategy({ highWaterMark: maxBufferedBytes }),
  )
  const queuedBytes = () => (open && controller !== undefined ? Math.max(0, maxBufferedBytes - (controller.desiredSize ?? maxBufferedBytes)) : 0)
  const closeWith = (lastWords: Uint8Array | undefined, reason: SseEndReason) => {
    if (!open) return
    try {
      if (lastWords !== undefined) controller?.enqueue(lastWords)
      controller?.close()
    } catch {
      // the reader already went away
    }
    finish(reason)
  }
  const write = (bytes: Uint8Array) => {
    if (!open || controller === undefined) return false
    if (queuedBytes() + bytes.byteLength > maxBufferedBytes) {
      closeWith(options.fellBehind, "overflow")
      return false
    }
    try {
      controller.enqueue(bytes)
      return true
    } catch {
      finish("cancelled")
      return false
    }
  }
  return { body, write, end: (lastWords) => closeWith(lastWords, "closed"), queuedBytes, isOpen: () => open }
}

/** Open SSE streams of one object and the bytes queued for their readers. */
export interface SseStats {
  readonly streams: number
  readonly queuedBytes: number
  readonly largestQueueBytes: number
}

/** One open stream, as the object that opened it sees it. */
export interface OpenSseStream<Extra> {
  readonly id: string
  readonly writer: SseWriter
  readonly extra: Extra
  /** End the stream with a close code (protocols that have close events say so in `lastWords`). */
  readonly close: (code: number, reason: string) => void
}

/**
 * The SSE streams of one object, in its `Connections` fan-out. `toBytes` turns an encoded server
 * frame into its SSE event; the fan-out hands every stream the same frame string, so it runs
 * once per frame, not once per stream.
 */
export const makeSseStreams = <Extra = undefined>(options: {
  readonly connections: ConnectionsShape
  readonly maxBufferedBytes: () => number
  readonly toBytes: (frame: string) => Uint8Array
  readonly fellBehind: Uint8Array
  /** Last words of a stream the server closes with a code; none when omitted. */
  readonly closing?: (code: number, reason: string) => Uint8Array | undefined
  /** After a stream left (any reason), e.g. to tell the directory. */
  readonly onLeave?: (id: string) => void
}) => {
  const { connections } = options
  const streams = new Map<string, OpenSseStream<Extra>>()

  let lastFrame: string | undefined
  let lastBytes: Uint8Array = new Uint8Array()
  const bytesOf = (frame: string) => {
    if (frame !== lastFrame) {
      lastFrame = frame
      lastBytes = options.toBytes(frame)
    }
    return lastBytes
  }

  /**
   * A new stream, not yet in the fan-out: write what comes before it joins (replay, `ready`), then
   * `join` it. Its id is the connection id the fan-out excludes by.
   */
  const open = (id: string, extra: Extra) => {
    const writer = makeSseWriter({
      maxBufferedBytes: options.maxBufferedBytes(),
      fellBehind: options.fellBehind,
      onEnd: () => {
        streams.delete(id)
        connections.removeSink(id)
        options.onLeave?.(id)
      },
    })
    const close = (code: number, reason: string) => writer.end(options.closing?.(code, reason))
    const stream: OpenSseStream<Extra> = { id, writer, extra, close }
    streams.set(id, stream)
    return {
      stream,
      /** Write an encoded server frame; false once the stream ended. */
      send: (frame: string) => writer.write(bytesOf(frame)),
      join: (actorId: string) => {
        if (!writer.isOpen()) return
        connections.addSink({ id, actorId, send: (frame) => void writer.write(bytesOf(frame)), close })
      },
    }
  }

  const heartbeat = () => {
    for (const stream of [...streams.values()]) stream.writer.write(HEARTBEAT_COMMENT)
  }

  const stats = (): SseStats => {
    let total = 0
    let largest = 0
    for (const stream of streams.values()) {
      const queued = stream.writer.queuedBytes()
      total += queued
      if (queued > largest) largest = queued
    }
    return { streams: streams.size, queuedBytes: total, largestQueueBytes: largest }
  }

  return {
    open,
    get: (id: string) => streams.get(id),
    /** Write an encoded server frame to one stream; false when it is not open here. */
    sendTo: (id: string, frame: string) => streams.get(id)?.writer.write(bytesOf(frame)) ?? false,
    all: () => [...streams.values()],
    count: () => streams.size,
    heartbeat,
    stats,
  }
}

export type SseStreams<Extra = undefined> = ReturnType<typeof makeSseStreams<Extra>>
