/**
 * Server-Sent Events for one-way consumers (dashboards, feeds): the same frames as the socket, as
 * `event: <type>` / `data: <frame>` lines, with `id: <epoch>:<seq>` on stored messages so
 * `Last-Event-ID` resumes.
 *
 * Streams are written by the shared bounded writer (`sse/SseWriter.ts`), as in-memory sinks of the
 * `Connections` fan-out. The heartbeat comment is a durable job that runs only while streams are
 * open: nothing is scheduled for an idle room.
 *
 * @since 0.1.0
 */
import { Clock, Effect, Either } from "effect"
import { CloseCode, RoomDestroyed, toResponse } from "../../RealtimeError.js"
import { Close } from "../../sockets/CloseCodes.js"
import type { ReadyFrame } from "../../schema/Protocol.js"
import { Connections } from "../../sockets/Connections.js"
import { Sockets } from "../../sockets/Sockets.js"
import { Jobs } from "../../services/Jobs.js"
import { makeSseStreams, SSE_HEADERS, sseEventText, type SseStats } from "../../sse/SseWriter.js"
import { ActorContext } from "../Actor.js"
import type { ForwardedGrant } from "../../schema/LiveGrant.js"
import type { Messaging } from "../messaging/Messaging.js"
import { closeFrame, discontinuityFrame, messageFrame, readyFrame } from "../../schema/ServerFrames.js"
import { planResume } from "../messaging/Resume.js"

export const SSE_HEARTBEAT_JOB = "sse-heartbeat"

export type { SseStats }

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
  return sseEventText(type, frame, position === null ? undefined : `${position[1]}:${position[2]}`)
}

/** The `close` event a socket's close code becomes on a stream. */
const closeEvent = (code: number, reason: string) => sseEventText("close", closeFrame(code, reason))

export const makeSse = (options: {
  readonly kind: "room" | "channel"
  readonly messaging: Messaging
}) =>
  Effect.gen(function* () {
    const { kind, messaging } = options
    const connections = yield* Connections
    const sockets = yield* Sockets
    const jobs = yield* Jobs
    const { address, config } = yield* ActorContext

    // A reader this far behind is dropped rather than buffered without bound: it reconnects with
    // `Last-Event-ID` and history replays exactly what it had not read.
    const streams = makeSseStreams<{ readonly expiresAt: number }>({
      connections,
      maxBufferedBytes: () => config.sseBufferBytes,
      toBytes: (frame) => encoder.encode(sseEvent(frame)),
      fellBehind: encoder.encode(
        `: closing: this reader fell ${config.sseBufferBytes} bytes behind (sseBufferBytes); reconnect with Last-Event-ID to resume\n\n` +
          closeEvent(CloseCode.slowReader, "reader too slow: resume with Last-Event-ID"),
      ),
      closing: (code, reason) => encoder.encode(closeEvent(code, reason)),
    })

    const open = (request: Request, grant: ForwardedGrant) =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const destroyed = messaging.lifecycle.status().status === "destroyed"
        const since = request.headers.get("Last-Event-ID") ?? new URL(request.url).searchParams.get("since") ?? undefined
        const planned = yield* Effect.either(planResume(messaging.log, since, { destroyed, limit: Math.min(REPLAY_PAGE, config.historyLimit) }))
        if (planned._tag === "Left") return toResponse(planned.left)
        const plan = planned.right
        if (destroyed && plan.discontinuity === undefined) {
          return toResponse(new RoomDestroyed({ kind, id: address.id, message: `${kind} ${address.id} was destroyed` }))
        }
        if (!destroyed) {
          // Streams count against maxConnections with the sockets (the layer counts both).
          const room = yield* Effect.either(sockets.roomFor(kind, config.maxConnections))
          if (room._tag === "Left") return toResponse(room.left)
        }
        const id = crypto.randomUUID()
        const { stream, send, join } = streams.open(id, { expiresAt: grant.expiresAt })
        const response = () => new Response(stream.writer.body, { headers: SSE_HEADERS })
        if (plan.discontinuity !== undefined) send(discontinuityFrame(plan.discontinuity))
        if (destroyed) {
          stream.close(CloseCode.destroyed, `${kind} destroyed`)
          return response()
        }
        // The replay is read page by page and stops where the buffer is full: the reader resumes
        // from what it got, and no reconnect loads more of history than one buffer's worth.
        let position = plan.seq
        let page = plan.messages
        let replayed = 0
        for (;;) {
          for (const message of page) {
            if (!send(messageFrame(message))) return response()
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
        send(readyFrame(ready))
        join(grant.actor.id)
        yield* sockets.scheduleExpiry(grant.expiresAt)
        yield* Effect.either(jobs.ensure(SSE_HEARTBEAT_JOB, now + config.heartbeatMs))
        yield* Effect.either(messaging.reportIfChanged)
        return response()
      })

    const heartbeatJob = Effect.gen(function* () {
      // Streams leave outside any message (the reader went away): the directory hears of it here.
      yield* Effect.either(messaging.reportIfChanged)
      if (streams.count() === 0) return null
      const now = yield* Clock.currentTimeMillis
      streams.heartbeat()
      return now + config.heartbeatMs
    })

    /** Close streams whose grant expired; returns the next expiry. */
    const expire = (now: number): number | null => {
      let next: number | null = null
      for (const stream of streams.all()) {
        if (stream.extra.expiresAt <= now) stream.close(Close.grantExpired.code, Close.grantExpired.reason)
        else if (next === null || stream.extra.expiresAt < next) next = stream.extra.expiresAt
      }
      return next
    }

    // The socket layer's one grant-expiry job closes expired streams too.
    sockets.expiring(expire)

    return { open, bufferedBytes: streams.stats, count: streams.count, jobs: { [SSE_HEARTBEAT_JOB]: heartbeatJob } }
  })
