/**
 * Lifecycle of a room or channel: active → idle → active, and destroyed for good.
 *
 * Idle detection is a durable job. It is armed once and, when it fires, derives the last activity
 * from stored facts (newest message, last non-message touch) and either marks the room idle or
 * re-arms itself: publishing never has to reschedule it, so a publish writes no job row.
 *
 * @since 0.1.0
 */
import { Clock, Effect } from "effect"
import { RoomDestroyed, type ConstraintViolation, type StorageFailure } from "../../RealtimeError.js"
import type { LifecycleStatus } from "../../schema/Room.js"
import type { ConnectionsShape } from "../../sockets/Connections.js"
import type { JobsShape } from "../../services/Jobs.js"
import type { ActorFactsShape } from "../../storage/ActorFacts.js"
import type { MessageLog } from "./MessageLog.js"

export interface StatusFact {
  readonly status: LifecycleStatus
  readonly since: number
}

export const IDLE_JOB = "idle"

export const makeLifecycle = (options: {
  readonly facts: ActorFactsShape
  readonly jobs: Pick<JobsShape, "ensure" | "cancel">
  readonly connections: Pick<ConnectionsShape, "count">
  readonly log: Pick<MessageLog, "lastCreatedAt">
  readonly idleAfterMs: number
  readonly kind: "room" | "channel" | "crdtRoom"
  readonly id: string
}) =>
  Effect.gen(function* () {
    const { facts, jobs, connections, log, idleAfterMs, kind, id } = options
    const now = yield* Clock.currentTimeMillis
    let createdAt = yield* facts.get<number>("created_at")
    if (createdAt === undefined) {
      createdAt = now
      yield* Effect.orDie(facts.set("created_at", now))
    }
    let status: StatusFact = (yield* facts.get<StatusFact>("status")) ?? { status: "active", since: createdAt }
    let lastTouch = (yield* facts.get<number>("last_touch")) ?? createdAt
    let idleJobArmed = false

    const setStatus = (next: StatusFact) =>
      Effect.tap(facts.set("status", next), () =>
        Effect.sync(() => {
          status = next
        }),
      )

    const assertWritable: Effect.Effect<void, RoomDestroyed> = Effect.suspend(() =>
      status.status === "destroyed"
        ? Effect.fail(new RoomDestroyed({ kind, id, message: `${kind} ${id} was destroyed` }))
        : Effect.void,
    )

    /**
     * Record activity. `persistTouch` is for activity that leaves no message row (metadata, joins,
     * connections); message activity is read back from the log.
     */
    const touch = (at: number, persistTouch: boolean): Effect.Effect<void, StorageFailure | ConstraintViolation> =>
      Effect.gen(function* () {
        if (persistTouch) {
          lastTouch = at
          yield* facts.set("last_touch", at)
        }
        if (status.status === "idle") yield* setStatus({ status: "active", since: at })
        if (!idleJobArmed) {
          yield* jobs.ensure(IDLE_JOB, at + idleAfterMs)
          idleJobArmed = true
        }
      })

    /** Whether `touch(at, false)` would do nothing now (active, idle job armed): for synchronous fast paths. */
    const touchIsNoop = () => status.status === "active" && idleJobArmed

    const lastActivity = Effect.map(log.lastCreatedAt, (lastMessage) => Math.max(lastTouch, lastMessage ?? 0))

    /** The idle job: mark idle when quiet long enough, else come back when it could be. */
    const idleJob: Effect.Effect<number | null, StorageFailure | ConstraintViolation> = Effect.gen(function* () {
      const current = yield* Clock.currentTimeMillis
      if (status.status !== "active") {
        idleJobArmed = false
        return null
      }
      if (connections.count() > 0) return current + idleAfterMs
      const quietSince = yield* lastActivity
      const idleAt = quietSince + idleAfterMs
      if (current < idleAt) return idleAt
      yield* setStatus({ status: "idle", since: idleAt })
      idleJobArmed = false
      return null
    })

    const markDestroyed = Effect.gen(function* () {
      const at = yield* Clock.currentTimeMillis
      yield* setStatus({ status: "destroyed", since: at })
      yield* jobs.cancel(IDLE_JOB)
    })

    return {
      assertWritable,
      touch,
      touchIsNoop,
      idleJob,
      markDestroyed,
      lastActivity,
      status: () => status,
      createdAt: () => createdAt,
    }
  })

export type Lifecycle = Effect.Effect.Success<ReturnType<typeof makeLifecycle>>
