/**
 * Conformance of a CRDT room's document storage: the same tests against
 * `YjsDocumentStore.layerSqlite` (a real Durable Object's SQLite, the base in chunked blobs) and
 * `YjsDocumentStore.layerMemory`.
 */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { blobsMigration, CHUNK_BYTES } from "../src/storage/Blobs.js"
import * as YjsDocumentStore from "../src/storage/YjsDocumentStore.js"
import { failureOf } from "./helpers.js"
import { storageLayers } from "./storage-helpers.js"

const run = storageLayers({
  migrations: [YjsDocumentStore.yjsMigration, YjsDocumentStore.clientOwnersMigration, blobsMigration],
  sqlite: YjsDocumentStore.layerSqlite,
  memory: YjsDocumentStore.layerMemory,
})

const T0 = 1_800_000_000_000
const row = (seq: number, bytes: ReadonlyArray<number>, clientId: string | null = "c1"): YjsDocumentStore.UpdateRow => ({
  seq,
  clientId,
  actor: JSON.stringify({ type: "user", id: `u${seq}` }),
  update: new Uint8Array(bytes),
  createdAt: T0 + seq,
})
const plain = (rows: ReadonlyArray<{ readonly seq: number; readonly update: Uint8Array }>) => rows.map((r) => ({ ...r, update: [...r.update] }))
const byClient = (bindings: ReadonlyArray<YjsDocumentStore.Binding>) => [...bindings].sort((a, b) => a.client - b.client)

describe.each(["sqlite", "memory"] as const)("YjsDocumentStore conformance: %s", (layer) => {
  it("logs updates with their bindings atomically, keeps a client's first owner, and reads ranges by seq", async () => {
    const result = await run(
      layer,
      Effect.gen(function* () {
        const store = yield* YjsDocumentStore.YjsDocumentStore
        const empty = yield* store.load
        yield* store.append([row(2, [2, 2]), row(1, [1])], [{ client: 7, owner: "user:a", boundAt: T0 }])
        yield* store.append([row(3, [3, 3, 3], null)], [{ client: 7, owner: "user:b", boundAt: T0 + 1 }, { client: 9, owner: "user:b", boundAt: T0 + 1 }])
        // Seq 2 is taken: nothing of this append is stored, not seq 4, not client 11.
        const clash = yield* Effect.exit(store.append([row(4, [4]), row(2, [9])], [{ client: 11, owner: "user:c", boundAt: T0 }]))
        return {
          empty,
          clash,
          loaded: yield* store.load,
          page: yield* store.range(1, 1),
          rest: yield* store.range(1, 10),
          none: yield* store.range(3, 10),
          bindings: byClient(yield* store.bindings),
          bytes: yield* store.storedBytes,
        }
      }),
    )
    expect(result.empty).toEqual({ base: undefined, updates: [], compactedThrough: 0 })
    expect(failureOf(result.clash)._tag).toBe("ConstraintViolation")
    expect(result.loaded.base).toBeUndefined()
    expect(plain(result.loaded.updates)).toEqual([
      { seq: 1, update: [1] },
      { seq: 2, update: [2, 2] },
      { seq: 3, update: [3, 3, 3] },
    ])
    expect(result.page.map((r) => ({ ...r, update: [...r.update] }))).toEqual([{ ...row(2, []), update: [2, 2] }])
    expect(result.rest.map((r) => [r.seq, r.clientId, r.actor, r.createdAt])).toEqual([
      [2, "c1", JSON.stringify({ type: "user", id: "u2" }), T0 + 2],
      [3, null, JSON.stringify({ type: "user", id: "u3" }), T0 + 3],
    ])
    expect(result.none).toEqual([])
    expect(result.bindings).toEqual([
      { client: 7, owner: "user:a", boundAt: T0 },
      { client: 9, owner: "user:b", boundAt: T0 + 1 },
    ])
    expect(result.bytes).toBe(6)
  })

  it("folds the log into a base larger than one chunk, keeps later updates, and clears everything", async () => {
    // Over one chunk, so the SQLite layer splits it; a pattern that shows any misordered part.
    const base = new Uint8Array(CHUNK_BYTES + 321).map((_, i) => i % 253)
    const result = await run(
      layer,
      Effect.gen(function* () {
        const store = yield* YjsDocumentStore.YjsDocumentStore
        yield* store.append([row(1, [1]), row(2, [2]), row(3, [3, 3])], [{ client: 5, owner: "user:a", boundAt: T0 }])
        yield* store.fold(base, 2)
        const folded = yield* store.load
        const foldedBytes = yield* store.storedBytes
        const streamAfterFold = (yield* store.range(0, 10)).map((r) => r.seq)
        yield* store.clear(3)
        return { folded, foldedBytes, streamAfterFold, cleared: yield* store.load, clearedBytes: yield* store.storedBytes, bindings: yield* store.bindings }
      }),
    )
    expect(result.folded.compactedThrough).toBe(2)
    expect(result.folded.base?.byteLength).toBe(base.byteLength)
    expect(result.folded.base?.every((byte, i) => byte === base[i])).toBe(true)
    expect(plain(result.folded.updates)).toEqual([{ seq: 3, update: [3, 3] }])
    expect(result.foldedBytes).toBe(base.byteLength + 2)
    expect(result.streamAfterFold).toEqual([3])
    expect(result.cleared).toEqual({ base: undefined, updates: [], compactedThrough: 3 })
    expect(result.clearedBytes).toBe(0)
    expect(result.bindings).toEqual([])
  })

  it("lists bindings older than a time and forgets the ones asked", async () => {
    const result = await run(
      layer,
      Effect.gen(function* () {
        const store = yield* YjsDocumentStore.YjsDocumentStore
        yield* store.append(
          [],
          [
            { client: 1, owner: "user:a", boundAt: T0 },
            { client: 2, owner: "user:a", boundAt: T0 + 10 },
            { client: 3, owner: "user:b", boundAt: T0 + 20 },
          ],
        )
        const old = [...(yield* store.boundBefore(T0 + 20))].sort()
        yield* store.unbind([1, 3])
        return { old, left: byClient(yield* store.bindings), log: yield* store.load }
      }),
    )
    expect(result.old).toEqual([1, 2])
    expect(result.left).toEqual([{ client: 2, owner: "user:a", boundAt: T0 + 10 }])
    expect(result.log.updates).toEqual([])
  })
})
