/**
 * Jobs on the memory layer under TestClock (`services/JobsMemory.ts`): the alarm fires at each
 * time it is armed for while the clock advances, so actor logic that schedules is unit-tested
 * without sleeping. The same logic on a real object and its real alarm: jobs.test.ts.
 */
import { Clock, Effect, TestClock, TestContext } from "effect"
import { describe, expect, it } from "vitest"
import * as Jobs from "../src/services/Jobs.js"
import * as JobsMemory from "../src/services/JobsMemory.js"

const T0 = 1_800_000_000_000

const run = <A, E>(body: Effect.Effect<A, E, Jobs.Jobs | JobsMemory.MemoryAlarm>) =>
  Effect.runPromise(Effect.zipRight(TestClock.setTime(T0), body).pipe(Effect.provide(JobsMemory.layerMemory), Effect.provide(TestContext.TestContext)))

describe("Jobs on memory storage, under TestClock", () => {
  it("runs each job at the instant it is due, follows reschedules and retries, and keeps the alarm on the earliest", async () => {
    const result = await run(
      Effect.gen(function* () {
        const jobs = yield* Jobs.Jobs
        const alarm = yield* JobsMemory.MemoryAlarm
        const runs: Array<string> = []
        const at = (name: string) => Effect.map(Clock.currentTimeMillis, (now) => void runs.push(`${name} +${now - T0}`))
        let repeats = 0
        let failures = 0
        const handlers: Jobs.JobHandlers = {
          once: Effect.as(at("once"), null),
          // Every 4 s, three times.
          repeat: Effect.flatMap(at("repeat"), () => Effect.map(Clock.currentTimeMillis, (now) => (++repeats < 3 ? now + 4_000 : null))),
          // Fails twice: retried after 1 s, then 2 s.
          flaky: Effect.flatMap(at("flaky"), () => (++failures <= 2 ? Effect.fail("not yet") : Effect.succeed(null))),
        }
        yield* jobs.schedule("repeat", T0 + 1_000)
        yield* jobs.ensure("once", T0 + 500)
        yield* jobs.ensure("once", T0 + 700) // later: no-op
        yield* jobs.schedule("flaky", T0 + 2_000)
        const armedFirst = alarm.armedAt()
        const early = yield* JobsMemory.advance(400, handlers)
        const ran = yield* JobsMemory.advance(20_000, handlers)
        return { armedFirst, early, ran, runs, now: (yield* Clock.currentTimeMillis) - T0, pending: yield* jobs.pending, armed: alarm.armedAt() }
      }),
    )
    expect(result.armedFirst).toBe(T0 + 500)
    expect(result.early).toEqual([])
    expect(result.runs).toEqual(["once +500", "repeat +1000", "flaky +2000", "flaky +3000", "repeat +5000", "flaky +5000", "repeat +9000"])
    expect(result.ran).toHaveLength(7)
    expect(result.now).toBe(20_400)
    expect(result.pending).toEqual([])
    expect(result.armed).toBeNull()
  })

  it("stops a job that reschedules itself for now forever instead of hanging", async () => {
    const exit = await run(
      Effect.exit(
        Effect.gen(function* () {
          const jobs = yield* Jobs.Jobs
          yield* jobs.schedule("loop", T0 + 10)
          return yield* JobsMemory.advance(1_000, { loop: Clock.currentTimeMillis })
        }),
      ),
    )
    expect(exit._tag).toBe("Failure")
    expect(String(exit._tag === "Failure" ? exit.cause : "")).toContain("keeps rescheduling itself")
  })
})
