/**
 * Durable jobs without a Durable Object, for unit tests of actor logic under `TestClock`: the real
 * `Jobs` logic over the in-memory `JobStore` and an alarm that is only a number.
 *
 * `advance(ms, handlers)` moves the test clock forward and, each time the alarm comes due on the
 * way, sets the clock to the alarm's time and runs the due jobs, as the runtime would fire the
 * alarm: a test waits on time without sleeping, and sees every job run at its scheduled instant.
 *
 * @since 0.2.0
 */
import { Clock, Context, Effect, Layer, TestClock } from "effect"
import type { ConstraintViolation, StorageFailure } from "../RealtimeError.js"
import * as JobStore from "../storage/JobStore.js"
import { Jobs, make, type Alarm, type JobHandlers } from "./Jobs.js"

/** The alarm of a test: when it is armed for, and how often it was set. */
export interface MemoryAlarmShape extends Alarm {
  /** The time the alarm is armed for, or null. */
  readonly armedAt: () => number | null
  /** The alarm fired: it is no longer armed (the runtime clears a fired alarm). */
  readonly fired: () => void
  /** How many times the alarm was set (each one a storage write in an object). */
  readonly sets: () => number
}

/**
 * The alarm `layerMemory`'s jobs arm.
 *
 * @since 0.2.0
 * @category services
 */
export class MemoryAlarm extends Context.Tag("durable-realtime/MemoryAlarm")<MemoryAlarm, MemoryAlarmShape>() {}

export const makeMemoryAlarm = (): MemoryAlarmShape => {
  let armed: number | null = null
  let sets = 0
  return {
    set: (at) => {
      armed = at
      sets++
      return Promise.resolve()
    },
    clear: () => {
      armed = null
      return Promise.resolve()
    },
    armedAt: () => armed,
    fired: () => void (armed = null),
    sets: () => sets,
  }
}

/**
 * `Jobs` over the given store and alarm. Build it again over the same two to model an object that
 * restarts: its rows and its alarm outlive the `Jobs` that wrote them.
 *
 * @since 0.2.0
 * @category layers
 */
export const layerOver = (store: JobStore.JobStoreShape, alarm: MemoryAlarmShape): Layer.Layer<Jobs | MemoryAlarm> =>
  Layer.effectContext(Effect.map(make(alarm).pipe(Effect.provideService(JobStore.JobStore, store)), (jobs) => Context.make(MemoryAlarm, alarm).pipe(Context.add(Jobs, jobs))))

/**
 * `Jobs` over a fresh in-memory store and a `MemoryAlarm`, both fresh each time the layer is built.
 *
 * @since 0.2.0
 * @category layers
 */
export const layerMemory: Layer.Layer<Jobs | MemoryAlarm> = Layer.suspend(() => layerOver(JobStore.makeMemory(), makeMemoryAlarm()))

/** More firings than this in one `advance` means a job reschedules itself for "now" forever. */
const MAX_FIRINGS = 1_000

/**
 * Move the test clock forward by `ms`, firing the alarm at each time it is armed for on the way
 * (due jobs run with `handlers`, which may schedule more). Returns the jobs run, in order.
 *
 * @since 0.2.0
 */
export const advance = (
  ms: number,
  handlers: JobHandlers,
): Effect.Effect<ReadonlyArray<string>, StorageFailure | ConstraintViolation, Jobs | MemoryAlarm> =>
  Effect.gen(function* () {
    const jobs = yield* Jobs
    const alarm = yield* MemoryAlarm
    const target = (yield* Clock.currentTimeMillis) + ms
    const ran: Array<string> = []
    for (let firings = 0; ; firings++) {
      const at = alarm.armedAt()
      if (at === null || at > target) break
      if (firings === MAX_FIRINGS) return yield* Effect.dieMessage(`JobsMemory.advance: the alarm fired ${MAX_FIRINGS} times before ${target}; a job keeps rescheduling itself`)
      if (at > (yield* Clock.currentTimeMillis)) yield* TestClock.setTime(at)
      alarm.fired()
      ran.push(...(yield* jobs.runDue(handlers)))
    }
    if (target > (yield* Clock.currentTimeMillis)) yield* TestClock.setTime(target)
    return ran
  })
