/**
 * Storage of a table hub's change buffer, behind a Tag: the newest changes of its stream (for
 * `since` resume), each with its seq, source shard, outbox id and JSON text, and per shard the
 * high water of changes already trimmed from the buffer (so a re-sent change is still dropped).
 * `db/hub/TableHub.ts` holds the logic (exactly-once per shard, the buffer's bounds, replay
 * plans) and speaks only to this service.
 *
 * `layerSqlite` keeps the tables the hub always kept (`hub_changes`, `hub_applied`);
 * `layerMemory` an array and a map. One conformance suite (`test/storage-hub-change-store.test.ts`)
 * runs the same tests against both.
 *
 * A change's size is its JSON text's length in characters: the buffer is bounded in those.
 *
 * @since 0.2.0
 */
import { Context, Effect, Either, Layer } from "effect"
import { ConstraintViolation, type StorageFailure } from "../RealtimeError.js"
import { Sql, type RawExec, type SqlShape } from "../services/Sql.js"
import { sqliteStore } from "./SqliteStores.js"

/** One buffered change. */
export interface BufferedChange {
  readonly seq: number
  readonly shard: number
  readonly outboxId: number
  /** JSON text of the change. */
  readonly change: string
}

/** What a hub reads once when it wakes. */
export interface BufferFacts {
  /** Highest buffered seq, or null when the buffer is empty. */
  readonly lastSeq: number | null
  /** Lowest buffered seq, or null when the buffer is empty. */
  readonly firstSeq: number | null
  /** Characters buffered. */
  readonly chars: number
  /** Per shard, the highest outbox id applied: buffered or trimmed. */
  readonly highWater: ReadonlyArray<{ readonly shard: number; readonly outboxId: number }>
}

/** How to trim the buffer after an append. */
export interface Trim {
  /** Drop every change with a seq at or below this (0: none by count). */
  readonly through: number
  /** When given, drop further the oldest changes until at most this many characters are buffered. */
  readonly maxChars?: number | undefined
}

/** What a trim removed: changes up to `through` (undefined when none), and their characters. */
export interface Trimmed {
  readonly through: number | undefined
  readonly chars: number
}

export type WriteError = StorageFailure | ConstraintViolation

export interface HubChangeStoreShape {
  readonly load: Effect.Effect<BufferFacts, StorageFailure>
  /**
   * Atomically: buffer the changes (a seq is stored once), then trim. Each shard's highest
   * trimmed outbox id is kept as its high water.
   */
  readonly append: (changes: ReadonlyArray<BufferedChange>, trim: Trim) => Effect.Effect<Trimmed, WriteError>
  /** `append` synchronously, for a hub's synchronous publish. */
  readonly appendNow: (changes: ReadonlyArray<BufferedChange>, trim: Trim) => Either.Either<Trimmed, WriteError>
  /**
   * `append`'s statements inside a transaction the caller holds (a shard's write, so the change is
   * buffered in the same commit as its row): throws instead of failing, which rolls that transaction back.
   */
  readonly appendWith: (exec: RawExec, changes: ReadonlyArray<BufferedChange>, trim: Trim) => Trimmed
  /** Characters buffered after `seq`. */
  readonly charsAfter: (seq: number) => Effect.Effect<number, StorageFailure>
  /** Every buffered change after `seq`, by seq. */
  readonly after: (seq: number) => Effect.Effect<ReadonlyArray<{ readonly seq: number; readonly change: string }>, StorageFailure>
  /**
   * The buffer of one partition among several kept in this object (a shard hosting the streams of
   * its `streamFrom: "shard"` partitions), by hub id: the same operations, apart from the others'.
   */
  readonly partition: (hub: string) => HubChangeStoreShape
}

/**
 * The change buffer of one table hub.
 *
 * @since 0.2.0
 * @category services
 */
export class HubChangeStore extends Context.Tag("durable-realtime/HubChangeStore")<HubChangeStore, HubChangeStoreShape>() {}

export const hubMigrations = [
  {
    name: "table_hub_001",
    statements: [
      "CREATE TABLE IF NOT EXISTS hub_applied (shard INTEGER PRIMARY KEY, outbox_id INTEGER NOT NULL)",
      "CREATE TABLE IF NOT EXISTS hub_changes (seq INTEGER PRIMARY KEY, shard INTEGER NOT NULL, outbox_id INTEGER NOT NULL, change TEXT NOT NULL)",
    ],
  },
  {
    // Sizes beside the buffer (a small table): bounding it in characters never reads a change's text.
    name: "table_hub_002_sizes",
    statements: ["CREATE TABLE IF NOT EXISTS hub_change_sizes (seq INTEGER PRIMARY KEY, size INTEGER NOT NULL)"],
  },
  {
    // One row per change: the size is a column of the buffer itself, stored before the change's
    // text so that summing sizes reads no overflow page. `hub_applied` now holds the high water of
    // changes trimmed from the buffer (the buffer's own MAX(outbox_id) covers the rest), so it is
    // brought up to date with everything buffered here.
    name: "table_hub_003_one_row_per_change",
    statements: [
      "CREATE TABLE hub_changes_003 (seq INTEGER PRIMARY KEY, shard INTEGER NOT NULL, outbox_id INTEGER NOT NULL, size INTEGER NOT NULL, change TEXT NOT NULL)",
      "INSERT INTO hub_changes_003 (seq, shard, outbox_id, size, change) SELECT c.seq, c.shard, c.outbox_id, COALESCE(s.size, length(c.change)), c.change FROM hub_changes c LEFT JOIN hub_change_sizes s ON s.seq = c.seq",
      "INSERT INTO hub_applied (shard, outbox_id) SELECT shard, MAX(outbox_id) FROM hub_changes WHERE true GROUP BY shard ON CONFLICT(shard) DO UPDATE SET outbox_id = MAX(outbox_id, excluded.outbox_id)",
      "DROP TABLE hub_changes",
      "DROP TABLE hub_change_sizes",
      "ALTER TABLE hub_changes_003 RENAME TO hub_changes",
    ],
  },
]

/**
 * Where one buffer's rows are: a table hub's own tables, or one partition's rows in the tables a
 * shard keeps for the partitions it hosts (`hub` leads their keys: WITHOUT ROWID, one row written
 * per change, as in the hub's own table).
 */
interface Scope {
  readonly changes: string
  readonly applied: string
  /** A condition selecting this buffer's rows (`?` for each of `key`). */
  readonly where: string
  readonly key: ReadonlyArray<string>
  readonly insert: string
  readonly raiseHighWater: string
}

const hubScope: Scope = {
  changes: "hub_changes",
  applied: "hub_applied",
  where: "true",
  key: [],
  insert: "INSERT INTO hub_changes (seq, shard, outbox_id, size, change) VALUES (?, ?, ?, ?, ?)",
  raiseHighWater: "INSERT INTO hub_applied (shard, outbox_id) VALUES (?, ?) ON CONFLICT(shard) DO UPDATE SET outbox_id = MAX(outbox_id, excluded.outbox_id)",
}

const partitionScope = (hub: string): Scope => ({
  changes: "hub_partition_changes",
  applied: "hub_partition_applied",
  where: "hub = ?",
  key: [hub],
  insert: "INSERT INTO hub_partition_changes (hub, seq, shard, outbox_id, size, change) VALUES (?, ?, ?, ?, ?, ?)",
  raiseHighWater:
    "INSERT INTO hub_partition_applied (hub, shard, outbox_id) VALUES (?, ?, ?) ON CONFLICT(hub, shard) DO UPDATE SET outbox_id = MAX(outbox_id, excluded.outbox_id)",
})

/**
 * The buffers of the partitions a shard hosts itself (`streamFrom: "shard"` tables), declared by the
 * shard object beside its own migrations.
 */
export const partitionMigrations = [
  {
    name: "hub_partitions_001",
    statements: [
      "CREATE TABLE IF NOT EXISTS hub_partition_applied (hub TEXT NOT NULL, shard INTEGER NOT NULL, outbox_id INTEGER NOT NULL, PRIMARY KEY (hub, shard)) WITHOUT ROWID",
      "CREATE TABLE IF NOT EXISTS hub_partition_changes (hub TEXT NOT NULL, seq INTEGER NOT NULL, shard INTEGER NOT NULL, outbox_id INTEGER NOT NULL, size INTEGER NOT NULL, change TEXT NOT NULL, PRIMARY KEY (hub, seq)) WITHOUT ROWID",
    ],
  },
]

const makeScoped = (sql: SqlShape, scope: Scope): Omit<HubChangeStoreShape, "partition"> => {
  const { changes: table, applied, where, key } = scope
  // The newest seq whose changes, with every newer one, pass the budget: it and all older ones go.
  const overBudget = `SELECT seq FROM (SELECT seq, SUM(size) OVER (ORDER BY seq DESC) AS total FROM ${table} WHERE ${where}) WHERE total > ? ORDER BY seq DESC LIMIT 1`
  const appendWith = (exec: RawExec, changes: ReadonlyArray<BufferedChange>, trim: Trim): Trimmed => {
    for (const row of changes) exec(scope.insert, ...key, row.seq, row.shard, row.outboxId, row.change.length, row.change)
    let cutoff = trim.through
    if (trim.maxChars !== undefined) cutoff = Math.max(cutoff, exec<{ seq: number }>(overBudget, ...key, trim.maxChars)[0]?.seq ?? 0)
    if (cutoff <= 0) return { through: undefined, chars: 0 }
    let chars = 0
    // What leaves the buffer leaves its high water behind in the applied table, so a re-sent change is still dropped.
    for (const row of exec<{ shard: number; outbox_id: number; chars: number }>(
      `SELECT shard, MAX(outbox_id) AS outbox_id, SUM(size) AS chars FROM ${table} WHERE ${where} AND seq <= ? GROUP BY shard`,
      ...key,
      cutoff,
    )) {
      exec(scope.raiseHighWater, ...key, row.shard, row.outbox_id)
      chars += row.chars
    }
    exec(`DELETE FROM ${table} WHERE ${where} AND seq <= ?`, ...key, cutoff)
    return { through: cutoff, chars }
  }
  /** One change and no trim is one INSERT, atomic by itself: no savepoint around it (two statements fewer per publish). */
  const appendNow = (changes: ReadonlyArray<BufferedChange>, trim: Trim): Either.Either<Trimmed, WriteError> =>
    changes.length === 1 && trim.through <= 0 && trim.maxChars === undefined
      ? sql.statementNow((exec) => appendWith(exec, changes, trim))
      : sql.transactionNow((exec) => appendWith(exec, changes, trim))
  return {
    load: Effect.gen(function* () {
      const buffered = yield* sql.one<{ seq: number | null; first: number | null; chars: number | null }>(
        `SELECT MAX(seq) AS seq, MIN(seq) AS first, SUM(size) AS chars FROM ${table} WHERE ${where}`,
        ...key,
      )
      const highWater = yield* sql.all<{ shard: number; outbox_id: number }>(
        `SELECT shard, MAX(outbox_id) AS outbox_id FROM (SELECT shard, outbox_id FROM ${applied} WHERE ${where} UNION ALL SELECT shard, outbox_id FROM ${table} WHERE ${where}) GROUP BY shard`,
        ...key,
        ...key,
      )
      return {
        lastSeq: buffered?.seq ?? null,
        firstSeq: buffered?.first ?? null,
        chars: buffered?.chars ?? 0,
        highWater: highWater.map((row) => ({ shard: row.shard, outboxId: row.outbox_id })),
      }
    }),
    append: (changes, trim) => appendNow(changes, trim),
    appendNow,
    appendWith: (exec, changes, trim) => appendWith(exec, changes, trim),
    charsAfter: (seq) => Effect.map(sql.one<{ n: number | null }>(`SELECT SUM(size) AS n FROM ${table} WHERE ${where} AND seq > ?`, ...key, seq), (row) => row?.n ?? 0),
    after: (seq) => sql.all<{ seq: number; change: string }>(`SELECT seq, change FROM ${table} WHERE ${where} AND seq > ? ORDER BY seq`, ...key, seq),
  }
}

/** A hub's buffer over its own tables (`hubMigrations`); `partition(hub)` reads and writes the partition tables (`partitionMigrations`). */
export const makeSqlite = (sql: SqlShape): HubChangeStoreShape => {
  const partition = (hub: string): HubChangeStoreShape => ({ ...makeScoped(sql, partitionScope(hub)), partition })
  return { ...makeScoped(sql, hubScope), partition }
}

/** In an array sorted by seq and a map of trimmed high waters; each partition another such pair. */
export const makeMemory = (): HubChangeStoreShape => {
  const partitions = new Map<string, HubChangeStoreShape>()
  const partition = (hub: string): HubChangeStoreShape => {
    let store = partitions.get(hub)
    if (store === undefined) partitions.set(hub, (store = { ...makeMemoryBuffer(), partition }))
    return store
  }
  return { ...makeMemoryBuffer(), partition }
}

const makeMemoryBuffer = (): Omit<HubChangeStoreShape, "partition"> => {
  let buffer: Array<BufferedChange> = []
  const trimmedHighWater = new Map<number, number>()
  const raise = (map: Map<number, number>, shard: number, outboxId: number) => map.set(shard, Math.max(map.get(shard) ?? outboxId, outboxId))
  const appendWith = (changes: ReadonlyArray<BufferedChange>, trim: Trim): Trimmed => {
    // As SQLite's primary key would, before anything is written: the append is atomic.
    const seqs = new Set(buffer.map((row) => row.seq))
    for (const row of changes) {
      if (seqs.has(row.seq)) throw new ConstraintViolation({ table: "hub_changes", message: `UNIQUE constraint failed: hub_changes.seq (${row.seq})` })
      seqs.add(row.seq)
    }
    buffer = [...buffer, ...changes.map((row) => ({ ...row }))].sort((a, b) => a.seq - b.seq)
    let cutoff = trim.through
    if (trim.maxChars !== undefined) {
      let total = 0
      for (let i = buffer.length - 1; i >= 0; i--) {
        total += buffer[i]!.change.length
        if (total > trim.maxChars) {
          cutoff = Math.max(cutoff, buffer[i]!.seq)
          break
        }
      }
    }
    if (cutoff <= 0) return { through: undefined, chars: 0 }
    const dropped = buffer.filter((row) => row.seq <= cutoff)
    for (const row of dropped) raise(trimmedHighWater, row.shard, row.outboxId)
    buffer = buffer.filter((row) => row.seq > cutoff)
    return { through: cutoff, chars: dropped.reduce((sum, row) => sum + row.change.length, 0) }
  }

  const appendNow = (changes: ReadonlyArray<BufferedChange>, trim: Trim): Either.Either<Trimmed, WriteError> =>
    Either.try({ try: () => appendWith(changes, trim), catch: (error) => (error instanceof ConstraintViolation ? error : new ConstraintViolation({ table: "hub_changes", message: String(error) })) })
  return {
    load: Effect.sync(() => {
      const highWater = new Map(trimmedHighWater)
      for (const row of buffer) raise(highWater, row.shard, row.outboxId)
      return {
        lastSeq: buffer[buffer.length - 1]?.seq ?? null,
        firstSeq: buffer[0]?.seq ?? null,
        chars: buffer.reduce((sum, row) => sum + row.change.length, 0),
        highWater: [...highWater].map(([shard, outboxId]) => ({ shard, outboxId })),
      }
    }),
    append: (changes, trim) => appendNow(changes, trim),
    appendNow,
    // No transaction to join in memory: the append is atomic by itself (checked before anything changes).
    appendWith: (_exec, changes, trim) => appendWith(changes, trim),
    charsAfter: (seq) => Effect.sync(() => buffer.filter((row) => row.seq > seq).reduce((sum, row) => sum + row.change.length, 0)),
    after: (seq) => Effect.sync(() => buffer.filter((row) => row.seq > seq).map((row) => ({ seq: row.seq, change: row.change }))),
  }
}

/**
 * The SQLite layer, over the hub's `Sql` (tables from `hubMigrations`).
 *
 * @since 0.2.0
 * @category layers
 */
export const layerSqlite: Layer.Layer<HubChangeStore, never, Sql> = Layer.effect(HubChangeStore, Effect.map(Sql, makeSqlite))

/** The store's descriptor for an object kind's list of stores (`SqliteStores.ts`): built beside the others, with no Layer of its own. */
export const sqlite = sqliteStore(HubChangeStore, makeSqlite)

/**
 * A fresh, empty buffer each time the layer is built.
 *
 * @since 0.2.0
 * @category layers
 */
export const layerMemory: Layer.Layer<HubChangeStore> = Layer.sync(HubChangeStore, makeMemory)
