/**
 * Conformance of the message log's storage: the same tests run against `MessageStore.layerSqlite`
 * (a real Durable Object's SQLite) and `MessageStore.layerMemory`, through the log that rooms and
 * channels use (`makeMessageLog`), plus the store's own contract where the log relies on it.
 */
import { Effect, Either } from "effect"
import { describe, expect, it } from "vitest"
import { makeMessageLog } from "../src/actors/messaging/MessageLog.js"
import { anonymousActor } from "../src/schema/Common.js"
import * as MessageStore from "../src/storage/MessageStore.js"
import { failureOf } from "./helpers.js"
import { storageLayers } from "./storage-helpers.js"

const run = storageLayers({
  migrations: [MessageStore.messageLogMigration],
  sqlite: MessageStore.layerSqlite,
  memory: MessageStore.layerMemory,
})

const T0 = 1_800_000_000_000
const options = (overrides: Partial<Parameters<typeof makeMessageLog>[0]> = {}) => ({
  historyLimit: 100,
  maxPayloadBytes: 1024,
  idempotency: "retry" as const,
  ...overrides,
})
const actor = anonymousActor

describe.each(["sqlite", "memory"] as const)("MessageStore conformance: %s", (layer) => {
  it("appends in seq order; a repeated idempotency key returns the original and stores nothing", async () => {
    const result = await run(
      layer,
      Effect.gen(function* () {
        const log = yield* makeMessageLog(options())
        const first = yield* log.append({ type: "a", data: { n: 1 }, idempotencyKey: "k1" }, actor, T0)
        const second = yield* log.append({ type: "b", data: 2 }, actor, T0 + 1)
        const retry = yield* log.append({ type: "a", data: { n: 1, at: "later" }, idempotencyKey: "k1" }, actor, T0 + 2)
        const byKey = yield* log.byKey("k1")
        const strict = yield* makeMessageLog(options({ idempotency: "strict" }))
        const sameAgain = yield* strict.append({ type: "a", data: { n: 1 }, idempotencyKey: "k1" }, actor, T0 + 3)
        const conflict = yield* Effect.exit(strict.append({ type: "a", data: { n: 9 }, idempotencyKey: "k1" }, actor, T0 + 4))
        return { first, second, retry, byKey, sameAgain, conflict, lastSeq: strict.lastSeq(), count: yield* strict.count }
      }),
    )
    expect(result.first).toMatchObject({ duplicate: false, message: { seq: 1, type: "a", data: { n: 1 }, idempotencyKey: "k1" } })
    expect(result.second.message.seq).toBe(2)
    expect(result.retry).toEqual({ duplicate: true, message: result.first.message })
    expect(result.byKey).toEqual(result.first.message)
    expect(result.sameAgain).toEqual({ duplicate: true, message: result.first.message })
    expect(failureOf(result.conflict)._tag).toBe("IdempotencyConflict")
    expect(result.lastSeq).toBe(2)
    expect(result.count).toBe(2)
  })

  it("pages history backward and forward with cursors, and catches up from catchUpCursor", async () => {
    const result = await run(
      layer,
      Effect.gen(function* () {
        const log = yield* makeMessageLog(options())
        for (let i = 1; i <= 5; i++) yield* log.append({ type: "n", data: i }, actor, T0 + i)
        const seqs = (page: { readonly messages: ReadonlyArray<{ readonly seq: number }> }) => page.messages.map((m) => m.seq)
        const back1 = yield* log.page({ limit: 2 })
        const back2 = yield* log.page({ limit: 2, cursor: back1.nextCursor })
        const back3 = yield* log.page({ limit: 2, cursor: back2.nextCursor })
        const fwd1 = yield* log.page({ limit: 2, direction: "forward" })
        const fwd2 = yield* log.page({ limit: 2, cursor: fwd1.nextCursor })
        const fwd3 = yield* log.page({ limit: 2, cursor: fwd2.nextCursor })
        yield* log.append({ type: "n", data: 6 }, actor, T0 + 6)
        yield* log.append({ type: "n", data: 7 }, actor, T0 + 7)
        // Every page of the backward walk says where to catch up: after the head it first saw.
        const caughtUp = yield* log.page({ limit: 10, cursor: back3.catchUpCursor })
        const fromHead = yield* log.page({ limit: 10, cursor: fwd3.catchUpCursor })
        const wrongWay = yield* Effect.exit(log.page({ limit: 2, cursor: back1.nextCursor, direction: "forward" }))
        const garbage = yield* Effect.exit(log.page({ limit: 2, cursor: "not-a-cursor" }))
        return {
          back: [seqs(back1), seqs(back2), seqs(back3)],
          backEnd: back3.nextCursor,
          fwd: [seqs(fwd1), seqs(fwd2), seqs(fwd3)],
          fwdEnd: fwd3.nextCursor,
          caughtUp: seqs(caughtUp),
          fromHead: seqs(fromHead),
          wrongWay,
          garbage,
        }
      }),
    )
    expect(result.back).toEqual([[5, 4], [3, 2], [1]])
    expect(result.backEnd).toBeNull()
    expect(result.fwd).toEqual([[1, 2], [3, 4], [5]])
    expect(result.fwdEnd).toBeNull()
    expect(result.caughtUp).toEqual([6, 7])
    expect(result.fromHead).toEqual([6, 7])
    expect(failureOf(result.wrongWay)._tag).toBe("InvalidInput")
    expect(failureOf(result.garbage)._tag).toBe("InvalidInput")
  })

  it("prunes to historyLimit: reads show only the newest, rows go, resume past the gap is refused", async () => {
    const result = await run(
      layer,
      Effect.gen(function* () {
        const store = yield* MessageStore.MessageStore
        const log = yield* makeMessageLog(options({ historyLimit: 5 }))
        for (let i = 1; i <= 12; i++) yield* log.append({ type: "n", data: i }, actor, T0 + i)
        const page = yield* log.page({ limit: 50 })
        return {
          page: page.messages.map((m) => m.seq),
          stored: yield* store.countFrom(0),
          storedCount: log.storedCount(),
          count: yield* log.count,
          resumeGap: yield* log.since(2, 10),
          resumeHeld: (yield* log.since(9, 10))?.map((m) => m.seq),
          lastCreatedAt: yield* log.lastCreatedAt,
        }
      }),
    )
    expect(result.page).toEqual([12, 11, 10, 9, 8])
    expect(result.stored).toBe(5)
    expect(result.storedCount).toBe(5)
    expect(result.count).toBe(5)
    expect(result.resumeGap).toBeUndefined()
    expect(result.resumeHeld).toEqual([10, 11, 12])
    expect(result.lastCreatedAt).toBe(T0 + 12)
  })

  it("restores to a position with a new epoch, deletes history keeping positions, and reopens where it was", async () => {
    const result = await run(
      layer,
      Effect.gen(function* () {
        const log = yield* makeMessageLog(options())
        for (let i = 1; i <= 6; i++) yield* log.append({ type: "n", data: i, idempotencyKey: `k${i}` }, actor, T0 + i)
        const epoch1 = log.epoch()
        const cursor = (yield* log.page({ limit: 2 })).nextCursor
        const removed = yield* log.truncateAfter(3)
        const epoch2 = log.epoch()
        const oldCursor = yield* Effect.exit(log.page({ limit: 2, cursor }))
        // The key of a removed message is free again; a kept one still answers with its message.
        const reused = yield* log.append({ type: "n", data: "again", idempotencyKey: "k5" }, actor, T0 + 10)
        const kept = yield* log.append({ type: "n", data: 2, idempotencyKey: "k2" }, actor, T0 + 11)
        const reopened = yield* makeMessageLog(options())
        const afterReopen = { epoch: reopened.epoch(), lastSeq: reopened.lastSeq(), storedCount: reopened.storedCount() }
        const deleted = yield* reopened.deleteAll
        const afterDelete = yield* makeMessageLog(options())
        const reopenedEmpty = { epoch: afterDelete.epoch(), lastSeq: afterDelete.lastSeq(), storedCount: afterDelete.storedCount() }
        const next = yield* afterDelete.append({ type: "n", data: "fresh" }, actor, T0 + 20)
        return {
          epoch1,
          epoch2,
          removed,
          oldCursor,
          reused,
          kept,
          afterReopen,
          deleted,
          afterDelete: reopenedEmpty,
          deleteEpoch: reopened.epoch(),
          next: next.message,
          history: (yield* afterDelete.page({ limit: 10 })).messages.map((m) => m.seq),
        }
      }),
    )
    expect(result.removed).toBe(3)
    expect(result.epoch2).not.toBe(result.epoch1)
    expect(failureOf(result.oldCursor)._tag).toBe("InvalidInput")
    expect(result.reused).toMatchObject({ duplicate: false, message: { seq: 4, epoch: result.epoch2, data: "again" } })
    expect(result.kept).toMatchObject({ duplicate: true, message: { seq: 2 } })
    expect(result.afterReopen).toEqual({ epoch: result.epoch2, lastSeq: 4, storedCount: 4 })
    expect(result.deleted).toBe(4)
    expect(result.deleteEpoch).not.toBe(result.epoch2)
    // The seq floor keeps positions increasing after every row is gone.
    expect(result.afterDelete).toEqual({ epoch: result.deleteEpoch, lastSeq: 4, storedCount: 0 })
    expect(result.next).toMatchObject({ seq: 5, epoch: result.deleteEpoch })
    expect(result.history).toEqual([5])
  })

  it("store contract: append answers synchronously (an Either); a stored key returns its row and writes nothing; a taken seq under a new key is a constraint, not a skip", async () => {
    const result = await run(
      layer,
      Effect.gen(function* () {
        const store = yield* MessageStore.MessageStore
        const row = (seq: number, key: string | null, data: string): MessageStore.MessageRow => ({
          seq,
          id: `m${seq}`,
          type: "t",
          data,
          metadata: null,
          actor: "{}",
          created_at: T0 + seq,
          idempotency_key: key,
        })
        // The socket publish calls it without a fiber: the outcome must already be there.
        const first = store.append(row(1, "a", '{"n":1}'), undefined)
        const repeated = store.append(row(2, "a", '{"n":2}'), undefined)
        const takenSeq = store.append(row(1, "b", '{"n":3}'), undefined)
        const next = store.append(row(2, "c", '{"n":4}'), undefined)
        return { first, repeated, takenSeq, next, b: yield* store.byKey("b"), stored: yield* store.countFrom(0), facts: yield* store.load }
      }),
    )
    expect(Either.isEither(result.first) && Either.isRight(result.first) && result.first.right).toEqual({ _tag: "Inserted" })
    // The retry's own row (seq 2, other data) is not stored: the first row comes back.
    expect(Either.isRight(result.repeated) && result.repeated.right).toEqual({ _tag: "Existing", row: expect.objectContaining({ seq: 1, data: '{"n":1}', idempotency_key: "a" }) })
    expect(Either.isLeft(result.takenSeq) && result.takenSeq.left._tag).toBe("ConstraintViolation")
    expect(Either.isRight(result.next) && result.next.right).toEqual({ _tag: "Inserted" })
    expect(result.b).toBeUndefined()
    expect(result.stored).toBe(2)
    expect(result.facts).toMatchObject({ minSeq: 1, maxSeq: 2 })
  })

  it("counts a payload's bytes in UTF-8 on both append paths: multi-byte text over the limit is refused, ASCII at the limit is stored", async () => {
    const result = await run(
      layer,
      Effect.gen(function* () {
        // '"éééééé"' is 8 UTF-16 units but 14 UTF-8 bytes; '"aaaaaaaaaa"' is 12 of both; 13 is one too many.
        const log = yield* makeMessageLog(options({ maxPayloadBytes: 12 }))
        const multiByte = yield* Effect.exit(log.append({ type: "t", data: "éééééé" }, actor, T0))
        const multiByteNow = log.appendNow({ type: "t", data: "éééééé" }, actor, T0)
        const atLimit = yield* log.append({ type: "t", data: "a".repeat(10) }, actor, T0 + 1)
        const atLimitNow = log.appendNow({ type: "t", data: "b".repeat(10) }, actor, T0 + 2)
        const overNow = log.appendNow({ type: "t", data: "c".repeat(11) }, actor, T0 + 3)
        const withMetadata = yield* Effect.exit(log.append({ type: "t", data: "a", metadata: { m: "éé" } }, actor, T0 + 4))
        return { multiByte, multiByteNow, atLimit, atLimitNow, overNow, withMetadata, lastSeq: log.lastSeq() }
      }),
    )
    const refused = failureOf(result.multiByte) as { _tag: string; size: number; limit: number }
    expect({ tag: refused._tag, size: refused.size, limit: refused.limit }).toEqual({ tag: "PayloadTooLarge", size: 14, limit: 12 })
    expect(result.multiByteNow).toBeUndefined()
    expect(result.atLimit.message).toMatchObject({ seq: 1, data: "aaaaaaaaaa" })
    expect(JSON.parse(result.atLimitNow!.json)).toMatchObject({ seq: 2, data: "bbbbbbbbbb" })
    expect(result.overNow).toBeUndefined()
    // data '"a"' (3) + metadata '{"m":"éé"}' (12 bytes) = 15.
    expect((failureOf(result.withMetadata) as { size: number }).size).toBe(15)
    expect(result.lastSeq).toBe(2)
  })

  it("store contract: a seq is stored once (constraint), pruning and deleteAfter drop their keys", async () => {
    const result = await run(
      layer,
      Effect.gen(function* () {
        const store = yield* MessageStore.MessageStore
        const row = (seq: number, key: string | null = null): MessageStore.MessageRow => ({
          seq,
          id: `m${seq}`,
          type: "t",
          data: "null",
          metadata: null,
          actor: "{}",
          created_at: T0 + seq,
          idempotency_key: key,
        })
        yield* store.append(row(1, "a"), undefined)
        const twice = yield* Effect.exit(store.append(row(1), undefined))
        yield* store.append(row(2, "b"), undefined)
        yield* store.append(row(3, "c"), 3)
        const pruned = { a: yield* store.byKey("a"), b: yield* store.byKey("b"), min: yield* store.minSeq }
        const removed = yield* store.deleteAfter(2)
        const facts = yield* store.load
        return { twice, pruned, removed, c: yield* store.byKey("c"), facts }
      }),
    )
    expect(failureOf(result.twice)._tag).toBe("ConstraintViolation")
    expect(result.pruned).toEqual({ a: undefined, b: undefined, min: 3 })
    expect(result.removed).toBe(1)
    expect(result.c).toBeUndefined()
    expect(result.facts).toEqual({ minSeq: null, maxSeq: null, floor: undefined, epoch: undefined })
  })
})
