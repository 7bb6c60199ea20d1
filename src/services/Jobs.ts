/**
 * Durable scheduled jobs, multiplexed onto the Durable Object's single alarm.
 *
 * A job is a named row with its next run time (`JobStore`: SQLite in an object). The alarm is always armed for the
 * earliest row, so jobs survive hibernation, eviction and restarts. Alarms are at-least-once (they
 * can fire twice, or late), so every job handler must be idempotent: it looks at stored state and
 * decides what is due, rather than trusting that it runs exactly once.
 *
 * Handlers return the time of their next run, or `null` when they are done.
 *
 * @since 0.1.0
 */
import { Clock, Context, Effect, Layer } from "effect"
import { StorageFailure, type ConstraintViolation } from "../RealtimeError.js"
import { JobStore, layerSqlite as jobStoreSqlite } from "../storage/JobStore.js"
import type { Sql } from "./Sql.js"

export { jobsMigration } from "../storage/JobStore.js"

export type JobHandler = Effect.Effect<number | null, unknown>
export type JobHandlers = Readonly<Record<string, JobHandler>>

/** The one alarm of a Durable Object. */
export interface Alarm {
  readonly set: (at: number) => Promise<void>
  readonly clear: () => Promise<void>
}

export interface JobsShape {
  /** Run `name` at `at` (replacing any earlier schedule of it). */
  readonly schedule: (name: string, at: number) => Effect.Effect<void, StorageFailure | ConstraintViolation>
  /** Run `name` at `at` unless it is already scheduled earlier: cheap to call on every write. */
  readonly ensure: (name: string, at: number) => Effect.Effect<void, StorageFailure | ConstraintViolation>
  readonly cancel: (name: string) => Effect.Effect<void, StorageFailure | ConstraintViolation>
  /**
   * Synchronously: whether `ensure(name, at)` would be a no-op (this object wrote the job's row and
   * it runs at or before `at`). `false` only means "ask `ensure`". For synchronous fast paths.
   */
  readonly ensured?: (name: string, at: number) => boolean
  /** Scheduled jobs, soonest first. */
  readonly pending: Effect.Effect<ReadonlyArray<{ readonly name: string; readonly runAt: number; readonly attempts: number }>, StorageFailure>
  /** Run every due job with its handler, reschedule or delete it, then re-arm the alarm. */
  readonly runDue: (handlers: JobHandlers) => Effect.Effect<ReadonlyArray<string>, StorageFailure | ConstraintViolation>
  /** Make sure the alarm is armed for the earliest job (call on wake). */
  readonly rearm: Effect.Effect<void, StorageFailure>
}

export class Jobs extends Context.Tag("durable-realtime/Jobs")<Jobs, JobsShape>() {}

/** Retry delay of a failed job: exponential from 1 s, capped at 5 minutes. */
const retryDelay = (attempts: number) => Math.min(300_000, 1_000 * 2 ** Math.min(attempts, 9))

export const make = (alarm: Alarm) =>
  Effect.gen(function* () {
    const store = yield* JobStore
    // The earliest run time we armed the alarm for; avoids a setAlarm call per write.
    let armedFor: number | null = null
    // Run times of rows this object wrote and has not deleted since (only this module writes
    // the store). `ensure` runs on every publish: a hit here saves its SELECT. An entry is dropped on
    // any delete, so a missing entry only costs that SELECT; an entry never outlives its row.
    const scheduledAt = new Map<string, number>()

    const arm = (at: number | null) =>
      Effect.tryPromise({
        try: async () => {
          if (at === null) {
            if (armedFor !== null) await alarm.clear()
            armedFor = null
            return
          }
          if (armedFor === at) return
          // setAlarm refuses times <= 0; a time in the past simply fires as soon as possible.
          await alarm.set(Math.max(1, at))
          armedFor = at
        },
        catch: (cause) => new StorageFailure({ message: `could not arm the alarm: ${String(cause)}` }),
      })

    const rearm = Effect.flatMap(store.earliest, arm)

    const schedule = (name: string, at: number) =>
      Effect.zipRight(
        Effect.tap(store.put(name, at), () => Effect.sync(() => scheduledAt.set(name, at))),
        rearm,
      )

    const ensure = (name: string, at: number) => {
      const known = scheduledAt.get(name)
      if (known !== undefined && known <= at) return Effect.void
      return Effect.flatMap(store.runAt(name), (runAt) => {
        if (runAt === undefined || runAt > at) return schedule(name, at)
        scheduledAt.set(name, runAt)
        return Effect.void
      })
    }

    const ensured = (name: string, at: number) => {
      const known = scheduledAt.get(name)
      return known !== undefined && known <= at
    }

    const cancel = (name: string) =>
      Effect.zipRight(
        Effect.tap(store.remove(name), () => Effect.sync(() => scheduledAt.delete(name))),
        rearm,
      )

    const pending = store.all

    const runDue = (handlers: JobHandlers) =>
      Effect.gen(function* () {
        // The alarm that woke us has fired: whatever we armed is spent.
        armedFor = null
        const now = yield* Clock.currentTimeMillis
        const due = yield* store.due(now)
        const ran: Array<string> = []
        for (const job of due) {
          const handler = handlers[job.name] ?? handlers[job.name.split(":")[0]]
          if (handler === undefined) {
            yield* store.remove(job.name)
            scheduledAt.delete(job.name)
            continue
          }
          const outcome = yield* Effect.either(handler)
          ran.push(job.name)
          if (outcome._tag === "Left") {
            yield* Effect.logWarning(`job ${job.name} failed; retrying`, outcome.left)
            yield* store.move(job.name, now + retryDelay(job.attempts), true)
          } else if (outcome.right === null) {
            // Only delete the row we ran: the handler may have rescheduled itself for later.
            yield* store.remove(job.name, now)
          } else if (yield* store.move(job.name, outcome.right, false)) {
            // The row runs at the handler's time now, whatever it scheduled meanwhile: remembered, so a
            // later `ensure` for that time or after reads nothing (a busy room keeps its directory job).
            scheduledAt.set(job.name, outcome.right)
            continue
          }
          // The row was deleted, retried or kept by the handler's own schedule: `ensure` re-reads it.
          scheduledAt.delete(job.name)
        }
        yield* rearm
        return ran
      })

    return { schedule, ensure, ensured, cancel, pending, runDue, rearm } satisfies JobsShape
  })

/** Jobs on an object's alarm, their rows in its SQLite. */
export const layer = (alarm: Alarm): Layer.Layer<Jobs, never, Sql> => Layer.effect(Jobs, make(alarm)).pipe(Layer.provide(jobStoreSqlite))

/** The alarm of a Durable Object's storage. */
export const storageAlarm = (storage: DurableObjectStorage): Alarm => ({
  set: (at) => storage.setAlarm(at),
  clear: () => storage.deleteAlarm(),
})
