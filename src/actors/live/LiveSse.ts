/**
 * Server-Sent Events for one-way consumers (dashboards, feeds): the same frames as the socket, as
 * `event: <type>` / `data: <frame>` lines, with `id: <epoch>:<seq>` on stored messages so
 * `Last-Event-ID` resumes.
 *
 * An open stream keeps the object in memory (there is no hibernation for HTTP responses), so SSE
 * subscribers are kept as in-memory sinks of the `Connections` fan-out. The heartbeat comment is a
 * durable job that runs only while streams are open: nothing is scheduled for an idle room.
 *
 * @since 0.1.0
 */
import { Clock, Effect, Either } from "effect"
import { CloseCode, LimitExceeded, RoomDestroyed } from "../../RealtimeError.js"
import type { ReadyFrame } from "../../schema/Protocol.js"
import { Connections } from "../../sockets/Connections.js"
import { Jobs } from "../../services/Jobs.js"
import { ActorContext } from "../Actor.js"
import { errorResponse, type ForwardedGrant } from "./LiveGrant.js"
import { messageFrame, type Messaging } from "../messaging/Messaging.js"
import { planResume } from "../messaging/Resume.js"

export const SSE_HEARTBEAT_JOB = "sse-heartbeat"

/** Open SSE streams of one object and the bytes queued for their readers. */
export interface SseStats {
  readonly streams: number
  readonly queuedBytes: number
  readonly largestQueueBytes: number
}

/** Stored messages read from the log at a time while replaying to an SSE reader. */
const REPLAY_PAGE = 32

const encoder = new TextEncoder()
const typeOf = /^\{"type":"([a-z]+)"/
// Stored message ids are `msg_<epoch>_<seq>`: the position without parsing the frame.
const positionOf = /^\{"type":"message","message":\{"id":"msg_([A-Za-z0-9-]+)_(\d+)"/

/** One SSE event for an encoded server frame. */
export const sseEvent = (frame: string): string => {
  const type = typeOf.exec(frame)?.[1] ?? "message"
  const position = positionOf.exec(frame)
  return `${position === null ? "" : `id: ${position[1]}:${position[2]}\n`}event: ${type}\ndata: ${frame}\n\n`
}

export const makeSse = (options: {
  readonly kind: "room" | "channel"
  readonly messaging: Messaging
  readonly scheduleExpiry: (at: number) => Effect.Effect<void, unknown>
}) =>
  Effect.gen(function* () {
    const { kind, messaging } = options
    const connections = yield* Connections
    const jobs = yield* Jobs
    const { address, config } = yield* ActorContext
    // Bytes queued per open stream, for `bufferedBytes()` (tests and stats read the bound).
    const buffers = new Map<string, () => number>()
    const streams = new Map<
      string,
      { readonly expiresAt: number; readonly write: (bytes: Uint8Array) => void; readonly close: (code: number, reason: string) => void }
    >()

    // Fan-out hands every sink the same frame string: encode it once per frame, not per stream.
    let lastFrame: string | undefined
    let lastBytes: Uint8Array = new Uint8Array()
    const bytesOf = (frame: string) => {
      if (frame !== lastFrame) {
        lastFrame = frame
        lastBytes = encoder.encode(sseEvent(frame))
      }
      return lastBytes
    }

    const open = (request: Request, grant: ForwardedGrant) =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const destroyed = messaging.lifecycle.status().status === "destroyed"
        const since = request.headers.get("Last-Event-ID") ?? new URL(request.url).searchParams.get("since") ?? undefined
        const planned = yield* Effect.either(planResume(messaging.log, since, { destroyed, limit: Math.min(REPLAY_PAGE, config.historyLimit) }))
        if (planned._tag === "Left") return errorResponse(planned.left)
        const plan = planned.right
        if (destroyed && plan.discontinuity === undefined) {
          return errorResponse(new RoomDestroyed({ kind, id: address.id, message: `${kind} ${address.id} was destroyed` }))
        }
        if (!destroyed && connections.count() >= config.maxConnections) {
          return errorResponse(new LimitExceeded({ limit: "connections", message: `this ${kind} has reached maxConnections (${config.maxConnections})` }))
        }
        const stream = new TransformStream<Uint8Array, Uint8Array>()
        const writer = stream.writable.getWriter()
        const id = crypto.randomUUID()
        let open = true
        // Bytes written but not yet taken by the reader: a write settles once its chunk moved on.
        let queued = 0
        const leave = () => {
          open = false
          connections.removeSink(id)
          streams.delete(id)
          buffers.delete(id)
        }
        const write = (bytes: Uint8Array) => {
          if (!open) return
          if (queued + bytes.byteLength > config.sseBufferBytes) return fellBehind()
          queued += bytes.byteLength
          writer.write(bytes).then(
            () => {
              queued -= bytes.byteLength
            },
            () => undefined,
          )
        }
        const end = (final: Uint8Array) => {
          if (!open) return
          // The last words go past the budget on purpose: they are small, and say why.
          writer.write(final).catch(() => undefined)
          leave()
          writer.close().catch(() => undefined)
        }
        const close = (code: number, reason: string) => end(encoder.encode(`event: close\ndata: ${JSON.stringify({ type: "close", code, reason })}\n\n`))
        // A reader this far behind is dropped rather than buffered without bound: it reconnects with
        // `Last-Event-ID` and history replays exactly what it had not read.
        const fellBehind = () =>
          end(
            encoder.encode(
              `: closing: this reader fell ${config.sseBufferBytes} bytes behind (sseBufferBytes); reconnect with Last-Event-ID to resume\n\n` +
                `event: close\ndata: ${JSON.stringify({ type: "close", code: CloseCode.slowReader, reason: "reader too slow: resume with Last-Event-ID" })}\n\n`,
            ),
          )
        buffers.set(id, () => queued)
        const headers = { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache, no-transform", "x-accel-buffering": "no" }
        if (plan.discontinuity !== undefined) write(bytesOf(JSON.stringify(plan.discontinuity)))
        if (destroyed) {
          close(CloseCode.destroyed, `${kind} destroyed`)
          return new Response(stream.readable, { headers })
        }
        // The replay is read page by page and stops where the buffer is full: the reader resumes
        // from what it got, and no reconnect loads more of history than one buffer's worth.
        let position = plan.seq
        let page = plan.messages
        let replayed = 0
        for (;;) {
          for (const message of page) {
            write(bytesOf(messageFrame(message)))
            if (!open) return new Response(stream.readable, { headers })
            position = message.seq
            replayed++
          }
          if (page.length < REPLAY_PAGE || replayed >= config.historyLimit) break
          page = (yield* Effect.either(messaging.log.since(position, REPLAY_PAGE))).pipe(Either.getOrElse(() => undefined)) ?? []
        }
        const ready: ReadyFrame = {
          type: "ready",
          connectionId: id,
          kind,
          id: address.id,
          epoch: plan.epoch,
          seq: position,
          resumed: plan.resumed,
          replayed,
          actor: grant.actor,
          // SSE is one-way: whatever the grant says, this connection only reads.
          permissions: ["read"],
          expiresAt: grant.expiresAt,
          heartbeatMs: config.heartbeatMs,
        }
        write(bytesOf(JSON.stringify(ready)))
        connections.addSink({ id, actorId: grant.actor.id, send: (frame) => write(bytesOf(frame)), close })
        streams.set(id, { expiresAt: grant.expiresAt, write, close })
        // The reader went away: the writable side errors and the stream leaves the fan-out.
        writer.closed.catch(leave)
        yield* Effect.either(options.scheduleExpiry(grant.expiresAt))
        yield* Effect.either(jobs.ensure(SSE_HEARTBEAT_JOB, now + config.heartbeatMs))
        yield* Effect.either(messaging.reportIfChanged)
        return new Response(stream.readable, { headers })
      })

    const heartbeat = encoder.encode(": heartbeat\n\n")
    const heartbeatJob = Effect.gen(function* () {
      // Streams leave outside any message (the reader went away): the directory hears of it here.
      yield* Effect.either(messaging.reportIfChanged)
      if (streams.size === 0) return null
      const now = yield* Clock.currentTimeMillis
      for (const stream of streams.values()) stream.write(heartbeat)
      return now + config.heartbeatMs
    })

    /** Close streams whose grant expired; returns the next expiry. */
    const expire = (now: number): number | null => {
      let next: number | null = null
      for (const [, stream] of [...streams]) {
        if (stream.expiresAt <= now) stream.close(CloseCode.grantExpired, "grant expired")
        else if (next === null || stream.expiresAt < next) next = stream.expiresAt
      }
      return next
    }

    /** Bytes queued for readers now, over every open stream, and the largest single queue. */
    const bufferedBytes = (): SseStats => {
      let total = 0
      let largest = 0
      for (const queued of buffers.values()) {
        const n = queued()
        total += n
        if (n > largest) largest = n
      }
      return { streams: buffers.size, queuedBytes: total, largestQueueBytes: largest }
    }

    return { open, expire, bufferedBytes, count: () => streams.size, jobs: { [SSE_HEARTBEAT_JOB]: heartbeatJob } }
  })
