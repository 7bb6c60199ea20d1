/**
 * Storage of a CRDT room's Yjs document, behind a Tag: the base state (the log folded so far),
 * the ordered log of updates applied since, how far the base reaches (`compactedThrough`), and
 * who owns each Yjs client id. `actors/crdt/YjsStore.ts` holds the logic (validation, apply, coalescing, when
 * to fold) and `ClientOwners.ts` the ownership rules; both speak only to this service.
 *
 * `layerSqlite` keeps what the room always kept: rows in `yjs_updates`, the base in chunked blobs
 * (`Blobs.ts`, key `yjs:base`, so documents over SQLite's 2 MB value limit work), the fold point
 * in `_meta` and bindings in `yjs_client_owners`. `layerMemory` keeps copies in arrays and maps,
 * for unit tests of the document logic. One conformance suite
 * (`test/storage-yjs-document-store.test.ts`) runs the same tests against both.
 *
 * Every method is synchronous underneath, so the y-websocket hot path may `runSync` it.
 *
 * @since 0.2.0
 */
import { Context, Effect, Layer } from "effect"
import { ConstraintViolation, type StorageFailure } from "../RealtimeError.js"
import { Sql, type SqlShape } from "../services/Sql.js"
import { blobBytes, deleteBlobs, readBlob, writeBlob } from "./Blobs.js"
import { sqliteStore } from "./SqliteStores.js"

/** One logged update as stored. */
export interface UpdateRow {
  readonly seq: number
  /** The connection it came from, or null (HTTP). */
  readonly clientId: string | null
  /** JSON text of the actor that sent it. */
  readonly actor: string
  readonly update: Uint8Array
  readonly createdAt: number
}

/** A Yjs client id bound to the actor (`type:id`) that first used it. */
export interface Binding {
  readonly client: number
  readonly owner: string
  readonly boundAt: number
}

/** What a wake (or a rebuild after a refused update) reads to rebuild the document. */
export interface StoredDocument {
  readonly base: Uint8Array | undefined
  /** Every logged update, by seq. */
  readonly updates: ReadonlyArray<{ readonly seq: number; readonly update: Uint8Array }>
  /** The last seq folded into the base (0 when none was). */
  readonly compactedThrough: number
}

export type WriteError = StorageFailure | ConstraintViolation

export interface YjsDocumentStoreShape {
  /** The base, the log and the fold point, read consistently. */
  readonly load: Effect.Effect<StoredDocument, WriteError>
  /**
   * Atomically: log the updates (a seq is stored once) and bind the clients that are not bound
   * yet (a bound client keeps its owner). Either list may be empty.
   */
  readonly append: (updates: ReadonlyArray<UpdateRow>, bindings: ReadonlyArray<Binding>) => Effect.Effect<void, WriteError>
  /** Up to `limit` logged updates with seq past `after`, by seq. */
  readonly range: (after: number, limit: number) => Effect.Effect<ReadonlyArray<UpdateRow>, StorageFailure>
  /** Atomically: `base` becomes the base, updates up to `through` leave the log, the fold point is `through`. */
  readonly fold: (base: Uint8Array, through: number) => Effect.Effect<void, WriteError>
  /** Bytes the document takes: base plus logged updates. */
  readonly storedBytes: Effect.Effect<number, WriteError>
  /** Atomically forget the document (base, log, bindings); the fold point becomes `compactedThrough`. */
  readonly clear: (compactedThrough: number) => Effect.Effect<void, WriteError>
  /** Every binding. */
  readonly bindings: Effect.Effect<ReadonlyArray<Binding>, StorageFailure>
  /** Clients bound before `before`. */
  readonly boundBefore: (before: number) => Effect.Effect<ReadonlyArray<number>, StorageFailure>
  /** Forget these clients' bindings, atomically. */
  readonly unbind: (clients: ReadonlyArray<number>) => Effect.Effect<void, WriteError>
}

/**
 * The document storage of one CRDT room.
 *
 * @since 0.2.0
 * @category services
 */
export class YjsDocumentStore extends Context.Tag("durable-realtime/YjsDocumentStore")<YjsDocumentStore, YjsDocumentStoreShape>() {}

/** The update log; the base needs `blobsMigration`, the fold point `metaMigration`. */
export const yjsMigration = {
  name: "yjs_001",
  statements: [
    `CREATE TABLE IF NOT EXISTS yjs_updates (
      seq INTEGER PRIMARY KEY,
      client_id TEXT,
      actor TEXT NOT NULL,
      update_bytes BLOB NOT NULL,
      created_at INTEGER NOT NULL
    )`,
  ],
}

export const clientOwnersMigration = {
  name: "yjs_002_client_owners",
  statements: [
    `CREATE TABLE IF NOT EXISTS yjs_client_owners (
      client_id INTEGER PRIMARY KEY,
      owner TEXT NOT NULL,
      bound_at INTEGER NOT NULL
    )`,
  ],
}

const BASE_KEY = "yjs:base"
const COMPACTED_THROUGH = "yjs_compacted_through"

interface SqlUpdateRow extends Record<string, string | number | ArrayBuffer | null> {
  seq: number
  client_id: string | null
  actor: string
  update_bytes: ArrayBuffer
  created_at: number
}

const INSERT_UPDATE = "INSERT INTO yjs_updates (seq, client_id, actor, update_bytes, created_at) VALUES (?, ?, ?, ?, ?)"
const INSERT_BINDING = "INSERT OR IGNORE INTO yjs_client_owners (client_id, owner, bound_at) VALUES (?, ?, ?)"
const SET_COMPACTED_THROUGH = "INSERT INTO _meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value"

export const makeSqlite = (sql: SqlShape): YjsDocumentStoreShape => ({
  load: sql.transaction((exec): StoredDocument => {
    const through = exec<{ value: string }>("SELECT value FROM _meta WHERE key = ?", COMPACTED_THROUGH)[0]
    const rows = exec<SqlUpdateRow>("SELECT seq, update_bytes FROM yjs_updates ORDER BY seq")
    return {
      base: readBlob(exec, BASE_KEY),
      updates: rows.map((row) => ({ seq: row.seq, update: new Uint8Array(row.update_bytes) })),
      compactedThrough: through === undefined ? 0 : (JSON.parse(through.value) as number),
    }
  }),
  append: (updates, bindings) =>
    sql.transaction((exec) => {
      for (const row of updates) exec(INSERT_UPDATE, row.seq, row.clientId, row.actor, row.update, row.createdAt)
      for (const binding of bindings) exec(INSERT_BINDING, binding.client, binding.owner, binding.boundAt)
    }),
  range: (after, limit) =>
    Effect.map(sql.all<SqlUpdateRow>("SELECT * FROM yjs_updates WHERE seq > ? ORDER BY seq LIMIT ?", after, limit), (rows) =>
      rows.map((row) => ({
        seq: row.seq,
        clientId: row.client_id,
        actor: row.actor,
        update: new Uint8Array(row.update_bytes),
        createdAt: row.created_at,
      })),
    ),
  fold: (base, through) =>
    sql.transaction((exec) => {
      writeBlob(exec, BASE_KEY, base)
      exec("DELETE FROM yjs_updates WHERE seq <= ?", through)
      exec(SET_COMPACTED_THROUGH, COMPACTED_THROUGH, JSON.stringify(through))
    }),
  storedBytes: sql.transaction(
    (exec) => blobBytes(exec, BASE_KEY) + (exec<{ n: number | null }>("SELECT SUM(LENGTH(update_bytes)) AS n FROM yjs_updates")[0]?.n ?? 0),
  ),
  clear: (compactedThrough) =>
    sql.transaction((exec) => {
      deleteBlobs(exec, BASE_KEY)
      exec("DELETE FROM yjs_updates")
      exec("DELETE FROM yjs_client_owners")
      exec(SET_COMPACTED_THROUGH, COMPACTED_THROUGH, JSON.stringify(compactedThrough))
    }),
  bindings: Effect.map(sql.all<{ client_id: number; owner: string; bound_at: number }>("SELECT * FROM yjs_client_owners"), (rows) =>
    rows.map((row) => ({ client: row.client_id, owner: row.owner, boundAt: row.bound_at })),
  ),
  boundBefore: (before) =>
    Effect.map(sql.all<{ client_id: number }>("SELECT client_id FROM yjs_client_owners WHERE bound_at < ?", before), (rows) =>
      rows.map((row) => row.client_id),
    ),
  unbind: (clients) =>
    sql.transaction((exec) => {
      for (const client of clients) exec("DELETE FROM yjs_client_owners WHERE client_id = ?", client)
    }),
})

/** In arrays and maps; bytes are copied in and out, as SQLite would. */
export const makeMemory = (): YjsDocumentStoreShape => {
  let base: Uint8Array | undefined
  let log: Array<UpdateRow> = []
  let compactedThrough = 0
  const owners = new Map<number, Binding>()
  const copy = (row: UpdateRow): UpdateRow => ({ ...row, update: row.update.slice() })

  return {
    load: Effect.sync(() => ({
      base: base?.slice(),
      updates: log.map((row) => ({ seq: row.seq, update: row.update.slice() })),
      compactedThrough,
    })),
    append: (updates, bindings) =>
      Effect.suspend(() => {
        // As SQLite's primary key would, and before anything is written: the append is atomic.
        const seqs = new Set(log.map((row) => row.seq))
        for (const row of updates) {
          if (seqs.has(row.seq))
            return Effect.fail(new ConstraintViolation({ table: "yjs_updates", message: `UNIQUE constraint failed: yjs_updates.seq (${row.seq})` }))
          seqs.add(row.seq)
        }
        log = [...log, ...updates.map(copy)].sort((a, b) => a.seq - b.seq)
        for (const binding of bindings) if (!owners.has(binding.client)) owners.set(binding.client, { ...binding })
        return Effect.void
      }),
    range: (after, limit) =>
      Effect.sync(() =>
        log
          .filter((row) => row.seq > after)
          .slice(0, Math.max(0, limit))
          .map(copy),
      ),
    fold: (next, through) =>
      Effect.sync(() => {
        base = next.slice()
        log = log.filter((row) => row.seq > through)
        compactedThrough = through
      }),
    storedBytes: Effect.sync(() => (base?.byteLength ?? 0) + log.reduce((sum, row) => sum + row.update.byteLength, 0)),
    clear: (through) =>
      Effect.sync(() => {
        base = undefined
        log = []
        owners.clear()
        compactedThrough = through
      }),
    bindings: Effect.sync(() => [...owners.values()].map((binding) => ({ ...binding }))),
    boundBefore: (before) => Effect.sync(() => [...owners.values()].filter((binding) => binding.boundAt < before).map((binding) => binding.client)),
    unbind: (clients) => Effect.sync(() => clients.forEach((client) => owners.delete(client))),
  }
}

/**
 * The SQLite layer, over the room's `Sql` (tables from `yjsMigration`, `clientOwnersMigration`,
 * `blobsMigration` and `_meta`).
 *
 * @since 0.2.0
 * @category layers
 */
export const layerSqlite: Layer.Layer<YjsDocumentStore, never, Sql> = Layer.effect(YjsDocumentStore, Effect.map(Sql, makeSqlite))

/** The store's descriptor for an object kind's list of stores (`SqliteStores.ts`): built beside the others, with no Layer of its own. */
export const sqlite = sqliteStore(YjsDocumentStore, makeSqlite)

/**
 * A fresh, empty store each time the layer is built.
 *
 * @since 0.2.0
 * @category layers
 */
export const layerMemory: Layer.Layer<YjsDocumentStore> = Layer.sync(YjsDocumentStore, makeMemory)
