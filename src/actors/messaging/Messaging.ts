/**
 * What rooms and channels share: the message log, the lifecycle, publish/broadcast/history/state/
 * destroy operations, and reporting to the directory. Rooms add members, presence and metadata on
 * top; channels add stats.
 *
 * @since 0.1.0
 */
import { Clock, Effect } from "effect"
import type { RealtimeError } from "../../RealtimeError.js"
import { anonymousActor, type Actor } from "../../schema/Common.js"
import { BroadcastInput, type BroadcastResult, type PublishResult } from "../../schema/Message.js"
import { eventFrame, messageFrame, messageFrameOfJson } from "../../schema/ServerFrames.js"
import type { DestroyResult, RoomState } from "../../schema/Room.js"
import { Connections } from "../../sockets/Connections.js"
import { DIRECTORY_JOB, DIRECTORY_REPORT_DELAY_MS, DIRECTORY_REPORT_SPACING_MS, DirectoryClient } from "../../services/Directory.js"
import { Jobs } from "../../services/Jobs.js"
import { ActorFacts } from "../../storage/ActorFacts.js"
import { handler, implement } from "../../internal/Operations.js"
import { ActorContext } from "../Actor.js"
import { MessagingOps } from "../Ops.js"
import { IDLE_JOB, makeLifecycle } from "./Lifecycle.js"
import { makeMessageLog, type AppendInput } from "./MessageLog.js"
import { CloseCode, LimitExceeded } from "../../RealtimeError.js"
import { memberKey } from "../../schema/Protocol.js"
import { describeRefusal, makeRateBudget } from "../../services/RateBudget.js"

export const iso = (millis: number) => new Date(millis).toISOString()

/** The frame every subscriber receives for a stored message (its text is the row's, encoded once when stored). */
export { messageFrame }

export interface MessagingHooks {
  /** Current member count, for directory reports. */
  readonly members?: () => number
  /** Extra work when destroyed (rooms drop members and snapshots). Returns deleted snapshots. */
  readonly onDestroy?: (input: { readonly deleteSnapshots: boolean; readonly deleteHistory: boolean }) => Effect.Effect<number, RealtimeError>
  /** SSE streams and their queued bytes, for `state()`. */
  readonly sse?: () => NonNullable<RoomState["sse"]>
  /** Whether the actor holds content besides messages (a CRDT room's document), so it counts as a room. */
  readonly hasContent?: () => boolean
}

/** What a room or channel last told the directory, kept so a restart can tell whether it changed. */
interface ReportedFigures {
  readonly messages: number
  readonly members: number
  readonly connections: number
  readonly destroyed: boolean
}

const REPORTED_KEY = "directory_reported"

/** Reports this close together mean a room that keeps changing (see `reportJob`). */
const BUSY_REPORT_GAP_MS = 2 * DIRECTORY_REPORT_SPACING_MS

export const makeMessaging = (hooks: MessagingHooks = {}) =>
  Effect.gen(function* () {
    const facts = yield* ActorFacts
    const jobs = yield* Jobs
    const connections = yield* Connections
    const directory = yield* DirectoryClient
    const { kind, address, config } = yield* ActorContext
    if (kind !== "room" && kind !== "channel" && kind !== "crdtRoom") return yield* Effect.dieMessage("messaging actors are rooms, channels or CRDT rooms")

    const log = yield* makeMessageLog(config)
    const lifecycle = yield* makeLifecycle({ facts, jobs, connections, log, idleAfterMs: config.idleAfterMs, kind, id: address.id })

    // When the last report went out (in memory: after a restart the first report is not held back).
    let lastReportAt = Number.NEGATIVE_INFINITY
    /** When a change at `now` is reported: after the coalescing delay, and not sooner than the spacing after the last report. */
    const reportAt = (now: number) => Math.max(now + DIRECTORY_REPORT_DELAY_MS, lastReportAt + DIRECTORY_REPORT_SPACING_MS)
    const scheduleReport = (now: number) => jobs.ensure(DIRECTORY_JOB, reportAt(now))

    // Reports carry what is stored and connected now: messages history holds (so deleting history
    // or pruning lowers it), members, open sockets and streams.
    const figures = (): ReportedFigures => ({
      messages: log.storedCount(),
      members: hooks.members?.() ?? 0,
      connections: connections.count(),
      destroyed: lifecycle.status().status === "destroyed",
    })
    let reported = yield* facts.get<ReportedFigures>(REPORTED_KEY)
    const differs = (a: ReportedFigures | undefined, b: ReportedFigures) =>
      a === undefined
        ? b.messages > 0 || b.members > 0 || b.connections > 0 || b.destroyed || log.lastSeq() > 0 || (hooks.hasContent?.() ?? false)
        : a.messages !== b.messages || a.members !== b.members || a.connections !== b.connections || a.destroyed !== b.destroyed

    /**
     * Schedule a report when the figures moved since the last one. Cheap (no I/O when nothing
     * changed): for paths that cannot tell whether they changed a count (a stream that went away,
     * members that expired, a wake after a restart that dropped every socket).
     */
    const reportIfChanged = Effect.gen(function* () {
      if (differs(reported, figures())) yield* scheduleReport(yield* Clock.currentTimeMillis)
    })

    /**
     * Send the figures. A room that had reported one spacing before too is busy: its job stays, moved to
     * the next report time, so the publishes meanwhile find the report already in hand (`jobs.ensured`)
     * instead of each second's first one scheduling it again in the mailbox (a fiber, three statements
     * and an alarm write). When that time comes and nothing changed, there is nothing to send and the job
     * ends, as it would have without the follow-up.
     */
    const reportJob = Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const current = figures()
      if (reported !== undefined && !differs(reported, current)) return null
      const busy = now - lastReportAt <= BUSY_REPORT_GAP_MS
      yield* directory.report({ kind, id: address.id, ...current, version: now })
      lastReportAt = now
      yield* facts.set(REPORTED_KEY, current)
      reported = current
      return busy ? reportAt(now) : null
    })

    const actorOf = (explicit: Actor | undefined, caller: Actor | undefined) => explicit ?? caller ?? anonymousActor

    // Rate budgets of this object (frames and bytes, per connection and per actor), in memory.
    // Sockets spend them per frame (Live.ts); HTTP/RPC writes on behalf of an identified caller
    // spend the caller's actor bucket, the one its sockets share. Server code that names an
    // explicit `actor`, and calls without an identified caller, are the application's own.
    const budget = makeRateBudget({ connection: config.rateLimit, actor: config.actorRateLimit })
    const chargeCaller = (explicit: Actor | undefined, caller: Actor | undefined): Effect.Effect<void, LimitExceeded> =>
      explicit !== undefined || caller === undefined || caller.type === "anonymous"
        ? Effect.void
        : Effect.flatMap(Clock.currentTimeMillis, (now) => {
            const refusal = budget.admitActor(memberKey(caller), 0, now)
            return refusal === undefined ? Effect.void : Effect.fail(new LimitExceeded({ limit: "rate", message: describeRefusal(refusal) }))
          })

    /** Store (unless ephemeral) and fan out. The one path both publish and broadcast take. */
    const deliver = (
      input: BroadcastInput extends infer _ ? typeof BroadcastInput.Type : never,
      caller: Actor | undefined,
    ): Effect.Effect<BroadcastResult, RealtimeError> =>
      Effect.gen(function* () {
        yield* lifecycle.assertWritable
        const now = yield* Clock.currentTimeMillis
        const actor = actorOf(input.actor, caller)
        const except = input.except === undefined ? undefined : new Set(input.except)
        if (input.ephemeral) {
          const frame = eventFrame({ type: input.type, data: input.data, metadata: input.metadata, actor, createdAt: iso(now) })
          return { message: null, duplicate: false, delivered: connections.broadcast(frame, except) }
        }
        const { message, duplicate } = yield* log.append(input, actor, now)
        if (duplicate) return { message, duplicate, delivered: 0 }
        const delivered = connections.broadcast(messageFrame(message), except)
        yield* lifecycle.touch(now, false)
        yield* scheduleReport(now)
        return { message, duplicate, delivered }
      })

    /**
     * `deliver` of a stored message, synchronously, for a socket `publish` taken while the mailbox is
     * idle: append (idempotency check, insert and prune in one SQLite statement or transaction), fan
     * out, and give back the stored message's JSON text (for the ack) with the bookkeeping still to
     * run — `rest` is `undefined` when activity and the directory report are already in hand (the
     * usual case), else the Effect the caller runs in the mailbox. `undefined` overall (nothing
     * changed) when the ordinary `deliver` must answer: destroyed, or any failure of the append,
     * which that path then reports as it always has.
     */
    const deliverNow = (
      input: AppendInput,
      actor: Actor,
      now: number,
    ): { readonly messageJson: string; readonly duplicate: boolean; readonly rest: Effect.Effect<void, RealtimeError> | undefined } | undefined => {
      if (lifecycle.status().status === "destroyed") return undefined
      const appended = log.appendNow(input, actor, now)
      if (appended === undefined) return undefined
      const { json, duplicate } = appended
      if (duplicate) return { messageJson: json, duplicate, rest: undefined }
      connections.broadcast(messageFrameOfJson(json), undefined)
      const settled = lifecycle.touchIsNoop() && (jobs.ensured?.(DIRECTORY_JOB, reportAt(now)) ?? false)
      return { messageJson: json, duplicate, rest: settled ? undefined : Effect.zipRight(lifecycle.touch(now, false), scheduleReport(now)) }
    }

    const publish = handler(MessagingOps.publish, (input, caller) =>
      Effect.map(
        Effect.zipRight(chargeCaller(input.actor, caller), deliver({ ...input, ephemeral: false, except: undefined }, caller)),
        (result): PublishResult => ({ message: result.message!, duplicate: result.duplicate }),
      ),
    )

    const broadcast = handler(MessagingOps.broadcast, (input, caller) => Effect.zipRight(chargeCaller(input.actor, caller), deliver(input, caller)))

    const history = handler(MessagingOps.history, (query) => log.page(query))

    const state = handler(MessagingOps.state, () =>
      Effect.gen(function* () {
        const fact = lifecycle.status()
        const lastActivity = yield* lifecycle.lastActivity
        return {
          id: address.id,
          instance: address.instance,
          status: fact.status,
          since: iso(fact.since),
          epoch: log.epoch(),
          createdAt: iso(lifecycle.createdAt()),
          lastActivityAt: iso(lastActivity),
          lastSeq: log.lastSeq(),
          connections: connections.count(),
          ...(hooks.sse === undefined ? {} : { sse: hooks.sse() }),
        } satisfies RoomState
      }),
    )

    const destroy = handler(MessagingOps.destroy, (input) =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const deletedMessages = input.deleteHistory ? yield* log.deleteAll : 0
        const deletedSnapshots = hooks.onDestroy ? yield* hooks.onDestroy({ deleteSnapshots: input.deleteSnapshots, deleteHistory: input.deleteHistory }) : 0
        yield* lifecycle.markDestroyed
        const closedConnections = connections.closeAll(CloseCode.destroyed, `${kind} destroyed`)
        yield* jobs.schedule(DIRECTORY_JOB, now)
        return { id: address.id, status: "destroyed", deletedMessages, deletedSnapshots, closedConnections } satisfies DestroyResult
      }),
    )

    const operations = implement(MessagingOps, { publish, broadcast, history, state, destroy })
    const jobHandlers = { [IDLE_JOB]: lifecycle.idleJob, [DIRECTORY_JOB]: reportJob }

    // On every start: a restart that dropped sockets (or members expiring while no report went out)
    // leaves the directory with old figures; the object says so as soon as it runs again.
    yield* Effect.orDie(reportIfChanged)

    return { log, lifecycle, operations, jobs: jobHandlers, deliver, deliverNow, scheduleReport, reportIfChanged, actorOf, budget, chargeCaller }
  })

export type Messaging = Effect.Effect.Success<ReturnType<typeof makeMessaging>>
