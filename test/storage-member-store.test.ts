/**
 * Conformance of a room's member storage: the same tests against `MemberStore.layerSqlite` (a real
 * Durable Object's SQLite) and `MemberStore.layerMemory`.
 */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import * as MemberStore from "../src/storage/MemberStore.js"
import { storageLayers } from "./storage-helpers.js"

const run = storageLayers({ migrations: [MemberStore.membersMigration], sqlite: MemberStore.layerSqlite, memory: MemberStore.layerMemory })

const T0 = 1_800_000_000_000
const member = (key: string, overrides: Partial<MemberStore.StoredMember> = {}): MemberStore.StoredMember => ({
  key,
  actor: { type: "user", id: key },
  metadata: { name: key },
  presence: {},
  via: "http",
  joinedAt: T0,
  lastSeen: T0,
  expiresAt: T0 + 30_000,
  ...overrides,
})

describe.each(["sqlite", "memory"] as const)("MemberStore conformance: %s", (layer) => {
  it("saves (keeping the first joinedAt), batches presence, removes and clears", async () => {
    const result = await run(
      layer,
      Effect.gen(function* () {
        const store = yield* MemberStore.MemberStore
        yield* store.save(member("user:a"))
        yield* store.save(member("user:b", { via: "socket", expiresAt: null }))
        // A rejoin replaces everything but when the member first joined.
        yield* store.save(member("user:a", { joinedAt: T0 + 99, lastSeen: T0 + 5, metadata: { name: "A" } }))
        yield* store.savePresence([
          { key: "user:a", presence: { cursor: 3 }, lastSeen: T0 + 7, expiresAt: T0 + 40_000 },
          { key: "user:b", presence: { typing: true }, lastSeen: T0 + 8, expiresAt: null },
          // A member that left meanwhile: nothing to update, nothing created.
          { key: "user:gone", presence: { x: 1 }, lastSeen: T0 + 9, expiresAt: null },
        ])
        const all = [...(yield* store.loadAll)].sort((x, y) => (x.key < y.key ? -1 : 1))
        yield* store.remove("user:a")
        yield* store.remove("user:never")
        const afterRemove = (yield* store.loadAll).map((m) => m.key)
        yield* store.clear
        return { all, afterRemove, afterClear: yield* store.loadAll }
      }),
    )
    expect(result.all).toEqual([
      member("user:a", { lastSeen: T0 + 7, metadata: { name: "A" }, presence: { cursor: 3 }, expiresAt: T0 + 40_000 }),
      member("user:b", { via: "socket", presence: { typing: true }, lastSeen: T0 + 8, expiresAt: null }),
    ])
    expect(result.afterRemove).toEqual(["user:b"])
    expect(result.afterClear).toEqual([])
  })
})
