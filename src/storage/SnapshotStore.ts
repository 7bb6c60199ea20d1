/**
 * Storage of a room's snapshots, behind a Tag: one record per snapshot (label, time, a JSON
 * payload the room decides) and, for CRDT rooms, the document bytes beside it.
 *
 * `layerSqlite` keeps the records in the `snapshots` table and the document in chunked blobs
 * (`Blobs.ts`, key `snapshot:<id>`), as before; `layerMemory` in a map. `actors/room/Snapshots.ts` holds the
 * logic (what a snapshot captures, restore, the operations) and speaks only to this service.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer } from "effect"
import { ConstraintViolation, type StorageFailure } from "../RealtimeError.js"
import { Sql, type SqlShape } from "../services/Sql.js"
import { deleteBlobs, readBlob, writeBlob } from "./Blobs.js"
import { sqliteStore } from "./SqliteStores.js"

/** One snapshot record as stored. */
export interface SnapshotRow extends Record<string, string | number | null> {
  id: string
  label: string | null
  created_at: number
  /** JSON text, the room's business. */
  payload: string
}

export type WriteError = StorageFailure | ConstraintViolation

export interface SnapshotStoreShape {
  /** Store a snapshot record and, when given, its document, atomically. */
  readonly insert: (row: SnapshotRow, document: Uint8Array | undefined) => Effect.Effect<void, WriteError>
  /** Every snapshot, newest first (ties by id). */
  readonly list: Effect.Effect<ReadonlyArray<SnapshotRow>, StorageFailure>
  readonly get: (id: string) => Effect.Effect<SnapshotRow | undefined, StorageFailure>
  /** The document stored with a snapshot, or undefined. */
  readonly document: (id: string) => Effect.Effect<Uint8Array | undefined, WriteError>
  /** Delete every snapshot and its document; returns how many snapshots there were. */
  readonly deleteAll: Effect.Effect<number, WriteError>
}

/**
 * The snapshot storage of one room.
 *
 * @since 0.1.0
 * @category services
 */
export class SnapshotStore extends Context.Tag("durable-realtime/SnapshotStore")<SnapshotStore, SnapshotStoreShape>() {}

/** The table the SQLite layer needs (documents go to `blobsMigration`'s table). */
export const snapshotsMigration = {
  name: "snapshots_001",
  statements: [
    `CREATE TABLE IF NOT EXISTS snapshots (
        id TEXT PRIMARY KEY, label TEXT, created_at INTEGER NOT NULL, payload TEXT NOT NULL
      )`,
  ],
}

const blobKey = (id: string) => `snapshot:${id}`

export const makeSqlite = (sql: SqlShape): SnapshotStoreShape => ({
  insert: (row, document) =>
    sql.transaction((exec) => {
      exec("INSERT INTO snapshots (id, label, created_at, payload) VALUES (?, ?, ?, ?)", row.id, row.label, row.created_at, row.payload)
      if (document !== undefined) writeBlob(exec, blobKey(row.id), document)
    }),
  list: sql.all<SnapshotRow>("SELECT * FROM snapshots ORDER BY created_at DESC, id"),
  get: (id) => sql.one<SnapshotRow>("SELECT * FROM snapshots WHERE id = ?", id),
  document: (id) => sql.transaction((exec) => readBlob(exec, blobKey(id))),
  deleteAll: sql.transaction((exec) => {
    const count = exec<{ n: number }>("SELECT COUNT(*) AS n FROM snapshots")[0]?.n ?? 0
    exec("DELETE FROM snapshots")
    deleteBlobs(exec, "snapshot:")
    return count
  }),
})

/** In a map; documents are copied in and out, as SQLite would. */
export const makeMemory = (): SnapshotStoreShape => {
  const records = new Map<string, { readonly row: SnapshotRow; readonly document: Uint8Array | undefined }>()
  return {
    insert: (row, document) =>
      Effect.suspend(() => {
        if (records.has(row.id))
          return Effect.fail(new ConstraintViolation({ table: "snapshots", message: `UNIQUE constraint failed: snapshots.id (${row.id})` }))
        records.set(row.id, { row: { ...row }, document: document === undefined ? undefined : document.slice() })
        return Effect.void
      }),
    list: Effect.sync(() =>
      [...records.values()]
        .map((record) => ({ ...record.row }))
        .sort((a, b) => b.created_at - a.created_at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)),
    ),
    get: (id) =>
      Effect.sync(() => {
        const record = records.get(id)
        return record === undefined ? undefined : { ...record.row }
      }),
    document: (id) => Effect.sync(() => records.get(id)?.document?.slice()),
    deleteAll: Effect.sync(() => {
      const count = records.size
      records.clear()
      return count
    }),
  }
}

/**
 * @since 0.1.0
 * @category layers
 */
export const layerSqlite: Layer.Layer<SnapshotStore, never, Sql> = Layer.effect(SnapshotStore, Effect.map(Sql, makeSqlite))

/** The store's descriptor for an object kind's list of stores (`SqliteStores.ts`): built beside the others, with no Layer of its own. */
export const sqlite = sqliteStore(SnapshotStore, makeSqlite)

/**
 * A fresh, empty store each time the layer is built.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory: Layer.Layer<SnapshotStore> = Layer.sync(SnapshotStore, makeMemory)
