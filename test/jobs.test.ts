import { env, runInDurableObject } from "cloudflare:test"
import { Effect, Layer, TestClock, TestContext } from "effect"
import { describe, expect, it } from "vitest"
import * as Jobs from "../src/services/Jobs.js"
import * as Sql from "../src/services/Sql.js"
import { uniqueId } from "./helpers.js"

const T0 = Math.ceil(Date.now() / 1_000_000) * 1_000_000 + 1_000_000

/** Run an Effect with Sql + Jobs over a fresh object's real storage and alarm, under TestClock. */
const inObject = <A>(body: Effect.Effect<A, unknown, Jobs.Jobs | Sql.Sql>) => {
  const namespace = (env as unknown as { REALTIME_ROOMS: DurableObjectNamespace }).REALTIME_ROOMS
  const stub = namespace.get(namespace.idFromName(uniqueId("jobs")))
  return runInDurableObject(stub, async (_instance, state) => {
    const sql = Sql.layer(state.storage)
    const layer = Layer.merge(sql, Jobs.layer(Jobs.storageAlarm(state.storage)).pipe(Layer.provide(sql)))
    const program = Effect.gen(function* () {
      // Real alarms are wall-clock times: start the test clock at T0, a round "now".
      yield* TestClock.setTime(T0)
      yield* Sql.migrate(yield* Sql.Sql, [Jobs.jobsMigration])
      return yield* body
    })
    const result = await Effect.runPromise(program.pipe(Effect.provide(layer), Effect.provide(TestContext.TestContext)))
    return { result, alarm: await state.storage.getAlarm() }
  })
}

describe("Jobs: durable jobs multiplexed on one alarm", () => {
  it("runs only due jobs, reschedules by the handler's answer, and keeps the alarm on the earliest", async () => {
    const { result, alarm } = await inObject(
      Effect.gen(function* () {
        const jobs = yield* Jobs.Jobs
        const runs: Array<string> = []
        const handlers: Jobs.JobHandlers = {
          early: Effect.sync(() => (runs.push("early"), null)),
          repeat: Effect.sync(() => (runs.push("repeat"), T0 + 5_000)),
          late: Effect.sync(() => (runs.push("late"), null)),
        }
        yield* jobs.schedule("late", T0 + 10_000)
        yield* jobs.schedule("repeat", T0 + 1_000)
        yield* jobs.schedule("early", T0 + 500)
        expect(yield* jobs.runDue(handlers)).toEqual([]) // t = 0: nothing due
        yield* TestClock.adjust(1_000)
        expect(yield* jobs.runDue(handlers)).toEqual(["early", "repeat"])
        // Fired again at the same instant (alarms are at-least-once): nothing runs twice.
        expect(yield* jobs.runDue(handlers)).toEqual([])
        const pending = yield* jobs.pending
        return { runs, pending }
      }),
    )
    expect(result.runs).toEqual(["early", "repeat"])
    expect(result.pending.map((job) => [job.name, job.runAt])).toEqual([
      ["repeat", T0 + 5_000],
      ["late", T0 + 10_000],
    ])
    expect(alarm).toBe(T0 + 5_000)
  })

  it("retries a failing job with backoff and counts attempts; ensure never postpones an earlier run", async () => {
    const { result, alarm } = await inObject(
      Effect.gen(function* () {
        const jobs = yield* Jobs.Jobs
        let failures = 0
        const handlers: Jobs.JobHandlers = { flaky: Effect.suspend(() => (++failures < 3 ? Effect.fail("boom") : Effect.succeed(null))) }
        yield* jobs.schedule("flaky", T0)
        yield* jobs.runDue(handlers)
        const afterFirst = yield* jobs.pending
        yield* TestClock.adjust(1_000)
        yield* jobs.runDue(handlers)
        const afterSecond = yield* jobs.pending
        yield* TestClock.adjust(2_000)
        yield* jobs.runDue(handlers)
        const done = yield* jobs.pending
        yield* jobs.ensure("x", T0 + 100_000)
        yield* jobs.ensure("x", T0 + 200_000) // later: keeps T0 + 100,000
        yield* jobs.ensure("x", T0 + 50_000) // earlier: moves to T0 + 50,000
        return { afterFirst, afterSecond, done, final: yield* jobs.pending, failures }
      }),
    )
    expect(result.afterFirst).toEqual([{ name: "flaky", runAt: T0 + 1_000, attempts: 1 }])
    expect(result.afterSecond).toEqual([{ name: "flaky", runAt: T0 + 3_000, attempts: 2 }])
    expect(result.done).toEqual([])
    expect(result.failures).toBe(3)
    expect(result.final).toEqual([{ name: "x", runAt: T0 + 50_000, attempts: 0 }])
    expect(alarm).toBe(T0 + 50_000)
  })
})
