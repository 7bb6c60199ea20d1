/**
 * Conformance of an actor's job rows: the same tests against `JobStore.layerSqlite` (a real
 * Durable Object's SQLite) and `JobStore.layerMemory`.
 */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import * as JobStore from "../src/storage/JobStore.js"
import { storageLayers } from "./storage-helpers.js"

const run = storageLayers({ migrations: [JobStore.jobsMigration], sqlite: JobStore.layerSqlite, memory: JobStore.layerMemory })

const T0 = 1_800_000_000_000

describe.each(["sqlite", "memory"] as const)("JobStore conformance: %s", (layer) => {
  it("schedules, replaces, moves with failure counts, lists due jobs soonest first, and removes only what is still due", async () => {
    const result = await run(
      layer,
      Effect.gen(function* () {
        const store = yield* JobStore.JobStore
        const empty = { earliest: yield* store.earliest, all: yield* store.all, runAt: yield* store.runAt("a") }
        yield* store.put("late", T0 + 300)
        yield* store.put("a", T0 + 200)
        yield* store.put("b", T0 + 100)
        yield* store.put("a", T0 + 50) // replaces
        yield* store.move("b", T0 + 150, true)
        yield* store.move("b", T0 + 160, true)
        const movedLate = yield* store.move("late", T0 + 310, false)
        const movedMissing = yield* store.move("missing", T0, true) // no row: nothing
        const listed = yield* store.all
        const due = yield* store.due(T0 + 160)
        // "a" ran at T0 + 50 and rescheduled itself for later meanwhile: a remove as of its run keeps it.
        yield* store.put("a", T0 + 400)
        yield* store.remove("a", T0 + 160)
        yield* store.remove("b", T0 + 160)
        const afterRemoves = yield* store.all
        yield* store.remove("a")
        return { moved: [movedLate, movedMissing], empty, listed, due, afterRemoves, earliest: yield* store.earliest, runAtLate: yield* store.runAt("late"), final: yield* store.all }
      }),
    )
    expect(result.moved).toEqual([true, false])
    expect(result.empty).toEqual({ earliest: null, all: [], runAt: undefined })
    expect(result.listed).toEqual([
      { name: "a", runAt: T0 + 50, attempts: 0 },
      { name: "b", runAt: T0 + 160, attempts: 2 },
      { name: "late", runAt: T0 + 310, attempts: 0 },
    ])
    expect(result.due.map((job) => job.name)).toEqual(["a", "b"])
    expect(result.afterRemoves.map((job) => job.name)).toEqual(["late", "a"])
    expect(result.earliest).toBe(T0 + 310)
    expect(result.runAtLate).toBe(T0 + 310)
    expect(result.final).toEqual([{ name: "late", runAt: T0 + 310, attempts: 0 }])
  })
})
