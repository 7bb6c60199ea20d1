/**
 * Conformance of a table hub's change buffer: the same tests against `HubChangeStore.layerSqlite`
 * (a real Durable Object's SQLite) and `HubChangeStore.layerMemory`.
 */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import * as HubChangeStore from "../src/storage/HubChangeStore.js"
import { failureOf } from "./helpers.js"
import { storageLayers } from "./storage-helpers.js"

const run = storageLayers({ migrations: [...HubChangeStore.hubMigrations, ...HubChangeStore.partitionMigrations], sqlite: HubChangeStore.layerSqlite, memory: HubChangeStore.layerMemory })

/** A change whose JSON text is exactly `size` characters (a string naming its outbox id, padded). */
const change = (seq: number, shard: number, outboxId: number, size = 10): HubChangeStore.BufferedChange => {
  const text = `${outboxId}:`
  return { seq, shard, outboxId, change: JSON.stringify(text + "x".repeat(size - 2 - text.length)) }
}
const sortedHighWater = (facts: HubChangeStore.BufferFacts) => [...facts.highWater].sort((a, b) => a.shard - b.shard)

describe.each(["sqlite", "memory"] as const)("HubChangeStore conformance: %s", (layer) => {
  it("buffers changes, reads them back after a seq, and refuses a seq twice without writing anything", async () => {
    const result = await run(
      layer,
      Effect.gen(function* () {
        const store = yield* HubChangeStore.HubChangeStore
        const empty = yield* store.load
        const none = yield* store.append([change(1, 0, 5), change(2, 1, 7), change(3, 0, 6)], { through: 0 })
        // Seq 3 is taken: seq 4 is not stored either.
        const clash = yield* Effect.exit(store.append([change(4, 1, 8), change(3, 1, 9)], { through: 0 }))
        return {
          empty,
          none,
          clash,
          facts: yield* store.load,
          after1: yield* store.after(1),
          charsAfter1: yield* store.charsAfter(1),
          afterAll: yield* store.after(3),
        }
      }),
    )
    expect(result.empty).toEqual({ lastSeq: null, firstSeq: null, chars: 0, highWater: [] })
    expect(result.none).toEqual({ through: undefined, chars: 0 })
    expect(failureOf(result.clash)._tag).toBe("ConstraintViolation")
    expect(result.facts.lastSeq).toBe(3)
    expect(result.facts.firstSeq).toBe(1)
    expect(result.facts.chars).toBe(30)
    expect(sortedHighWater(result.facts)).toEqual([
      { shard: 0, outboxId: 6 },
      { shard: 1, outboxId: 7 },
    ])
    expect(result.after1).toEqual([
      { seq: 2, change: change(2, 1, 7).change },
      { seq: 3, change: change(3, 0, 6).change },
    ])
    expect(result.charsAfter1).toBe(20)
    expect(result.afterAll).toEqual([])
  })

  it("trims by seq and by a character budget, keeping each shard's trimmed high water", async () => {
    const result = await run(
      layer,
      Effect.gen(function* () {
        const store = yield* HubChangeStore.HubChangeStore
        yield* store.append([change(1, 0, 100, 10), change(2, 1, 200, 10), change(3, 0, 101, 10)], { through: 0 })
        // By count: seq 1 and 2 go; shard 1 has nothing left buffered, its high water stays.
        const byCount = yield* store.append([change(4, 0, 102, 10)], { through: 2 })
        const afterCount = yield* store.load
        // By budget: 30 + 40 characters over a budget of 45: the newest that fit are kept (seq 5 only).
        const byBudget = yield* store.append([change(5, 1, 201, 40)], { through: 0, maxChars: 45 })
        const afterBudget = yield* store.load
        // Within budget: nothing goes.
        const within = yield* store.append([change(6, 0, 103, 8)], { through: 0, maxChars: 50 })
        return { byCount, afterCount, byBudget, afterBudget, within, rest: (yield* store.after(0)).map((row) => row.seq) }
      }),
    )
    expect(result.byCount).toEqual({ through: 2, chars: 20 })
    expect(result.afterCount.firstSeq).toBe(3)
    expect(result.afterCount.chars).toBe(20)
    expect(sortedHighWater(result.afterCount)).toEqual([
      { shard: 0, outboxId: 102 },
      { shard: 1, outboxId: 200 },
    ])
    expect(result.byBudget).toEqual({ through: 4, chars: 20 })
    expect(result.afterBudget.firstSeq).toBe(5)
    expect(result.afterBudget.chars).toBe(40)
    expect(sortedHighWater(result.afterBudget)).toEqual([
      { shard: 0, outboxId: 102 },
      { shard: 1, outboxId: 201 },
    ])
    expect(result.within).toEqual({ through: undefined, chars: 0 })
    expect(result.rest).toEqual([5, 6])
  })

  it("keeps each partition's buffer apart from the others' and from the object's own: seqs, trims and high waters", async () => {
    const result = await run(
      layer,
      Effect.gen(function* () {
        const store = yield* HubChangeStore.HubChangeStore
        const [a, b] = [store.partition('["t",{"k":"a"}]'), store.partition('["t",{"k":"b"}]')]
        // The same seqs in two partitions and in the object's own buffer: no clash.
        yield* a.append([change(1, 0, 10), change(2, 0, 11), change(3, 0, 12)], { through: 0 })
        yield* b.append([change(1, 0, 20)], { through: 0 })
        yield* store.append([change(1, 0, 30)], { through: 0 })
        // A trim in one partition leaves the others whole and keeps its own high water.
        const trimmed = yield* a.append([change(4, 0, 13)], { through: 3 })
        return {
          trimmed,
          a: yield* a.load,
          b: yield* b.load,
          own: yield* store.load,
          aAfter: (yield* a.after(0)).map((row) => row.seq),
          bAfter: (yield* b.after(0)).map((row) => row.seq),
          bChars: yield* b.charsAfter(0),
          again: yield* Effect.exit(b.append([change(1, 0, 21)], { through: 0 })),
        }
      }),
    )
    expect(result.trimmed).toEqual({ through: 3, chars: 30 })
    expect(result.a).toMatchObject({ lastSeq: 4, firstSeq: 4, chars: 10, highWater: [{ shard: 0, outboxId: 13 }] })
    expect(result.b).toMatchObject({ lastSeq: 1, firstSeq: 1, chars: 10, highWater: [{ shard: 0, outboxId: 20 }] })
    expect(result.own).toMatchObject({ lastSeq: 1, firstSeq: 1, chars: 10, highWater: [{ shard: 0, outboxId: 30 }] })
    expect(result.aAfter).toEqual([4])
    expect(result.bAfter).toEqual([1])
    expect(result.bChars).toBe(10)
    expect(failureOf(result.again)).toMatchObject({ _tag: "ConstraintViolation" })
  })
})
