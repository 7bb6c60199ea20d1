/**
 * Conformance of a directory's entries: the same tests against `DirectoryStore.layerSqlite` (a real
 * Durable Object's SQLite) and `DirectoryStore.layerMemory`.
 */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import type { DirectoryEntry } from "../src/services/Directory.js"
import * as DirectoryStore from "../src/storage/DirectoryStore.js"
import { storageLayers } from "./storage-helpers.js"

const run = storageLayers({ migrations: DirectoryStore.directoryMigrations, sqlite: DirectoryStore.layerSqlite, memory: DirectoryStore.layerMemory })

const entry = (kind: DirectoryEntry["kind"], id: string, figures: Partial<DirectoryEntry> = {}): DirectoryEntry => ({
  kind,
  id,
  messages: 1,
  members: 0,
  connections: 0,
  destroyed: false,
  version: 1,
  ...figures,
})
const keys = (rows: ReadonlyArray<{ readonly kind: string; readonly id: string }>) => rows.map((row) => `${row.kind}/${row.id}`)

describe.each(["sqlite", "memory"] as const)("DirectoryStore conformance: %s", (layer) => {
  it("keeps the newest report of each resource and totals live rooms, channels, members and connections (never hubs)", async () => {
    const result = await run(
      layer,
      Effect.gen(function* () {
        const store = yield* DirectoryStore.DirectoryStore
        const empty = yield* store.totals
        yield* store.put(entry("room", "r1", { members: 3, connections: 2, messages: 10, version: 5 }))
        yield* store.put(entry("room", "r1", { members: 9, connections: 9, messages: 99, version: 4 })) // older: ignored
        yield* store.put(entry("crdtRoom", "d1", { members: 1, connections: 1, messages: 0 }))
        yield* store.put(entry("channel", "c1", { connections: 4, messages: 7 }))
        yield* store.put(entry("channel", "c2", { messages: 2, version: 1 }))
        yield* store.put(entry("channel", "c2", { messages: 2, connections: 5, destroyed: true, version: 1 })) // same version: taken
        yield* store.put(entry("tableHub", "h1", { connections: 50, messages: 500 }))
        return { empty, totals: yield* store.totals, r1: (yield* store.page({ kind: "room", includeDestroyed: true, connectedOnly: false, limit: 10 }))[0] }
      }),
    )
    expect(result.empty).toEqual({ rooms: 0, channels: 0, members: 0, messages: 0, connections: 0 })
    // Messages count destroyed resources too (their history may be kept); the rest only live ones.
    expect(result.totals).toEqual({ rooms: 2, channels: 1, members: 4, messages: 19, connections: 7 })
    expect(result.r1).toEqual({ kind: "room", id: "r1", messages: 10, members: 3, connections: 2, destroyed: false })
  })

  it("pages by (kind, id) with filters, strictly after a key", async () => {
    const result = await run(
      layer,
      Effect.gen(function* () {
        const store = yield* DirectoryStore.DirectoryStore
        for (const id of ["b", "a", "c"]) yield* store.put(entry("room", id, { connections: id === "b" ? 1 : 0 }))
        yield* store.put(entry("channel", "z", { destroyed: true }))
        yield* store.put(entry("channel", "y"))
        yield* store.put(entry("tableHub", "h"))
        const page = (query: Partial<DirectoryStore.PageQuery>) => store.page({ includeDestroyed: false, connectedOnly: false, limit: 10, ...query })
        return {
          all: keys(yield* page({})),
          withDestroyed: keys(yield* page({ includeDestroyed: true })),
          first: keys(yield* page({ limit: 2 })),
          next: keys(yield* page({ limit: 2, after: ["channel", "y"] })),
          rooms: keys(yield* page({ kind: "room", after: ["room", "a"] })),
          connected: keys(yield* page({ connectedOnly: true })),
          none: keys(yield* page({ after: ["zzz", ""] })),
        }
      }),
    )
    expect(result.all).toEqual(["channel/y", "room/a", "room/b", "room/c", "tableHub/h"])
    expect(result.withDestroyed).toEqual(["channel/y", "channel/z", "room/a", "room/b", "room/c", "tableHub/h"])
    expect(result.first).toEqual(["channel/y", "room/a"])
    expect(result.next).toEqual(["room/a", "room/b"])
    expect(result.rooms).toEqual(["room/b", "room/c"])
    expect(result.connected).toEqual(["room/b"])
    expect(result.none).toEqual([])
  })
})
