/**
 * Storage of a directory's entries, behind a Tag: the latest report of every resource of an
 * instance (or of a database's table hubs), with its figures and the report's version.
 * `actors/directory/Directory.ts` (reports, stats) and `DirectoryIndex.ts` (the paged listing,
 * its cursors) hold the logic and speak only to this service.
 *
 * `layerSqlite` keeps the `entries` table the directory always had (one row per `(kind, id)`,
 * pages by keyset on that key); `layerMemory` a map. One conformance suite
 * (`test/storage-directory-store.test.ts`) runs the same tests against both.
 *
 * @since 0.2.0
 */
import { Context, Effect, Layer } from "effect"
import type { ConstraintViolation, StorageFailure } from "../RealtimeError.js"
import type { ResourceKind, ResourceSummary } from "../schema/Resources.js"
import type { DirectoryEntry } from "../services/Directory.js"
import { Sql, type SqlShape, type SqlValue } from "../services/Sql.js"
import { sqliteStore } from "./SqliteStores.js"

/** Sums over the entries that are not table hubs; rooms, channels, members and connections of live ones only. */
export interface Totals {
  readonly rooms: number
  readonly channels: number
  readonly members: number
  readonly messages: number
  readonly connections: number
}

/** Which entries a page lists, and where it starts. */
export interface PageQuery {
  readonly kind?: ResourceKind | undefined
  readonly includeDestroyed: boolean
  readonly connectedOnly: boolean
  /** List strictly after this `(kind, id)`. */
  readonly after?: readonly [string, string] | undefined
  readonly limit: number
}

export type WriteError = StorageFailure | ConstraintViolation

export interface DirectoryStoreShape {
  /** Keep a report, unless the stored one has a higher version (reports can arrive out of order). */
  readonly put: (entry: DirectoryEntry) => Effect.Effect<void, WriteError>
  readonly totals: Effect.Effect<Totals, StorageFailure>
  /** Up to `limit` entries by `(kind, id)`. */
  readonly page: (query: PageQuery) => Effect.Effect<ReadonlyArray<ResourceSummary>, StorageFailure>
}

/**
 * The entries of one directory.
 *
 * @since 0.2.0
 * @category services
 */
export class DirectoryStore extends Context.Tag("durable-realtime/DirectoryStore")<DirectoryStore, DirectoryStoreShape>() {}

export const directoryMigrations = [
  {
    name: "directory_001",
    statements: [
      `CREATE TABLE IF NOT EXISTS entries (
        kind TEXT NOT NULL, id TEXT NOT NULL, messages INTEGER NOT NULL, members INTEGER NOT NULL,
        connections INTEGER NOT NULL, destroyed INTEGER NOT NULL, version INTEGER NOT NULL,
        PRIMARY KEY (kind, id)
      )`,
    ],
  },
]

const PUT = `INSERT INTO entries (kind, id, messages, members, connections, destroyed, version) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(kind, id) DO UPDATE SET messages = excluded.messages, members = excluded.members,
           connections = excluded.connections, destroyed = excluded.destroyed, version = excluded.version
         WHERE excluded.version >= entries.version`

const TOTALS = `SELECT
          COALESCE(SUM(CASE WHEN kind != 'channel' AND destroyed = 0 THEN 1 ELSE 0 END), 0) AS rooms,
          COALESCE(SUM(CASE WHEN kind = 'channel' AND destroyed = 0 THEN 1 ELSE 0 END), 0) AS channels,
          COALESCE(SUM(CASE WHEN destroyed = 0 THEN members ELSE 0 END), 0) AS members,
          COALESCE(SUM(messages), 0) AS messages,
          COALESCE(SUM(CASE WHEN destroyed = 0 THEN connections ELSE 0 END), 0) AS connections
        FROM entries WHERE kind != 'tableHub'`

type Row = { kind: ResourceKind; id: string; messages: number; members: number; connections: number; destroyed: number }

export const makeSqlite = (sql: SqlShape): DirectoryStoreShape => ({
  put: (entry) =>
    Effect.asVoid(sql.run(PUT, entry.kind, entry.id, entry.messages, entry.members, entry.connections, entry.destroyed ? 1 : 0, entry.version)),
  totals: Effect.map(sql.one<{ rooms: number; channels: number; members: number; messages: number; connections: number }>(TOTALS), (row) => ({
    rooms: row?.rooms ?? 0,
    channels: row?.channels ?? 0,
    members: row?.members ?? 0,
    messages: row?.messages ?? 0,
    connections: row?.connections ?? 0,
  })),
  page: (query) => {
    const where: Array<string> = []
    const params: Array<SqlValue> = []
    if (query.kind !== undefined) {
      where.push("kind = ?")
      params.push(query.kind)
    }
    if (!query.includeDestroyed) where.push("destroyed = 0")
    if (query.connectedOnly) where.push("connections > 0")
    if (query.after !== undefined) {
      const [kind, id] = query.after
      where.push("(kind > ? OR (kind = ? AND id > ?))")
      params.push(kind, kind, id)
    }
    return Effect.map(
      sql.all<Row>(
        `SELECT kind, id, messages, members, connections, destroyed FROM entries ${where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY kind, id LIMIT ?`,
        ...params,
        query.limit,
      ),
      (rows) => rows.map((row) => ({ kind: row.kind, id: row.id, messages: row.messages, members: row.members, connections: row.connections, destroyed: row.destroyed === 1 })),
    )
  },
})

/** Compares as SQLite's default (binary) collation does for the ids the directory holds. */
const byKey = (a: { readonly kind: string; readonly id: string }, b: { readonly kind: string; readonly id: string }) =>
  a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0

/** In a map by `(kind, id)`. */
export const makeMemory = (): DirectoryStoreShape => {
  const entries = new Map<string, DirectoryEntry>()
  const keyOf = (kind: string, id: string) => JSON.stringify([kind, id])
  return {
    put: (entry) =>
      Effect.sync(() => {
        const stored = entries.get(keyOf(entry.kind, entry.id))
        if (stored === undefined || entry.version >= stored.version) entries.set(keyOf(entry.kind, entry.id), { ...entry })
      }),
    totals: Effect.sync(() => {
      const totals = { rooms: 0, channels: 0, members: 0, messages: 0, connections: 0 }
      for (const entry of entries.values()) {
        if (entry.kind === "tableHub") continue
        totals.messages += entry.messages
        if (entry.destroyed) continue
        if (entry.kind === "channel") totals.channels++
        else totals.rooms++
        totals.members += entry.members
        totals.connections += entry.connections
      }
      return totals
    }),
    page: (query) =>
      Effect.sync(() =>
        [...entries.values()]
          .filter(
            (entry) =>
              (query.kind === undefined || entry.kind === query.kind) &&
              (query.includeDestroyed || !entry.destroyed) &&
              (!query.connectedOnly || entry.connections > 0) &&
              (query.after === undefined || byKey(entry, { kind: query.after[0], id: query.after[1] }) > 0),
          )
          .sort(byKey)
          .slice(0, Math.max(0, query.limit))
          .map((entry) => ({ kind: entry.kind, id: entry.id, messages: entry.messages, members: entry.members, connections: entry.connections, destroyed: entry.destroyed })),
      ),
  }
}

/**
 * The SQLite layer, over the directory's `Sql` (the table from `directoryMigrations`).
 *
 * @since 0.2.0
 * @category layers
 */
export const layerSqlite: Layer.Layer<DirectoryStore, never, Sql> = Layer.effect(DirectoryStore, Effect.map(Sql, makeSqlite))

/** The store's descriptor for an object kind's list of stores (`SqliteStores.ts`): built beside the others, with no Layer of its own. */
export const sqlite = sqliteStore(DirectoryStore, makeSqlite)

/**
 * A fresh, empty map each time the layer is built.
 *
 * @since 0.2.0
 * @category layers
 */
export const layerMemory: Layer.Layer<DirectoryStore> = Layer.sync(DirectoryStore, makeMemory)
