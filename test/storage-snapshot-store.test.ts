/**
 * Conformance of a room's snapshot storage: the same tests against `SnapshotStore.layerSqlite`
 * (a real Durable Object's SQLite, documents in chunked blobs) and `SnapshotStore.layerMemory`.
 */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { blobsMigration, CHUNK_BYTES } from "../src/storage/Blobs.js"
import * as SnapshotStore from "../src/storage/SnapshotStore.js"
import { failureOf } from "./helpers.js"
import { storageLayers } from "./storage-helpers.js"

const run = storageLayers({
  migrations: [SnapshotStore.snapshotsMigration, blobsMigration],
  sqlite: SnapshotStore.layerSqlite,
  memory: SnapshotStore.layerMemory,
})

const T0 = 1_800_000_000_000
const row = (id: string, at: number, label: string | null = null): SnapshotStore.SnapshotRow => ({
  id,
  label,
  created_at: at,
  payload: JSON.stringify({ id }),
})

describe.each(["sqlite", "memory"] as const)("SnapshotStore conformance: %s", (layer) => {
  it("stores records with their documents (larger than one chunk), lists newest first, and deletes all", async () => {
    // Over one chunk, so the SQLite layer splits it; a pattern that shows any misordered part.
    const big = new Uint8Array(CHUNK_BYTES + 1234).map((_, i) => i % 251)
    const result = await run(
      layer,
      Effect.gen(function* () {
        const store = yield* SnapshotStore.SnapshotStore
        yield* store.insert(row("b", T0, "first"), undefined)
        yield* store.insert(row("c", T0 + 5), big)
        yield* store.insert(row("a", T0), new Uint8Array([1, 2, 3]))
        const again = yield* Effect.exit(store.insert(row("a", T0 + 9), undefined))
        const listed = (yield* store.list).map((r) => r.id)
        const got = yield* store.get("b")
        const missing = yield* store.get("nope")
        const bigBack = yield* store.document("c")
        const small = yield* store.document("a")
        const none = yield* store.document("b")
        const deleted = yield* store.deleteAll
        return {
          again,
          listed,
          got,
          missing,
          bigBack,
          small,
          none,
          deleted,
          after: yield* store.list,
          docAfter: yield* store.document("c"),
        }
      }),
    )
    expect(failureOf(result.again)._tag).toBe("ConstraintViolation")
    expect(result.listed).toEqual(["c", "a", "b"])
    expect(result.got).toEqual(row("b", T0, "first"))
    expect(result.missing).toBeUndefined()
    expect(result.bigBack?.byteLength).toBe(big.byteLength)
    expect(result.bigBack?.every((byte, i) => byte === big[i])).toBe(true)
    expect([...(result.small ?? [])]).toEqual([1, 2, 3])
    expect(result.none).toBeUndefined()
    expect(result.deleted).toBe(3)
    expect(result.after).toEqual([])
    expect(result.docAfter).toBeUndefined()
  })
})
