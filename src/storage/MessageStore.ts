/**
 * Storage of a room's or channel's message log, behind a Tag: the rows, their idempotency keys and
 * the log's own position facts (epoch, seq floor). `actors/messaging/MessageLog.ts` holds the logic (positions,
 * cursors, pruning policy, idempotency rules) and speaks only to this service.
 *
 * Two layers: `layerSqlite` (Durable Object SQLite, the statements the log always used) and
 * `layerMemory` (a sorted array and a key index, for unit tests of actor logic). One conformance
 * suite (`test/storage-message-store.test.ts`) runs the same tests against both.
 *
 * Rows carry their JSON as text: the log encodes once on append and compares encoded payloads for
 * strict idempotency, so both layers hand back exactly what was stored.
 *
 * @since 0.1.0
 */
import { Context, Effect, Either, Layer } from "effect"
import { ConstraintViolation, type StorageFailure } from "../RealtimeError.js"
import { Sql, type RawExec, type RawRun, type SqlShape } from "../services/Sql.js"
import * as ActorFacts from "./ActorFacts.js"
import { sqliteStore } from "./SqliteStores.js"

/** One stored message as the log writes it. */
export interface MessageRow extends Record<string, string | number | null> {
  seq: number
  id: string
  type: string
  /** JSON text. */
  data: string
  /** JSON text, or null when the message has none. */
  metadata: string | null
  /** JSON text of the actor. */
  actor: string
  created_at: number
  idempotency_key: string | null
}

/** What the log reads once when an actor starts. */
export interface LogFacts {
  readonly minSeq: number | null
  readonly maxSeq: number | null
  /** The highest seq ever used when rows were deleted (history deleted, restore). */
  readonly floor: number | undefined
  readonly epoch: string | undefined
}

/** Append outcome: the row went in, or a row with the same idempotency key was already there. */
export type AppendOutcome = { readonly _tag: "Inserted" } | { readonly _tag: "Existing"; readonly row: MessageRow }

export type WriteError = StorageFailure | ConstraintViolation

export interface MessageStoreShape {
  /** Position facts for startup: lowest and highest stored seq, the floor and the epoch. */
  readonly load: Effect.Effect<LogFacts, StorageFailure>
  /** Remember the current epoch. */
  readonly saveEpoch: (epoch: string) => Effect.Effect<void, WriteError>
  /** Remember the highest seq used, for when no row is left to show it. */
  readonly saveFloor: (seq: number) => Effect.Effect<void, WriteError>
  /**
   * Atomically: if the row has an idempotency key already stored, return that row and write
   * nothing; else insert it and, when `pruneBelow` is given, delete every row with a lower seq.
   * Synchronous underneath (the socket publish fast path calls it without a fiber): the outcome is
   * an `Either`, which is also an Effect for the ordinary path.
   */
  readonly append: (row: MessageRow, pruneBelow: number | undefined) => Either.Either<AppendOutcome, WriteError>
  /** The row stored under an idempotency key. */
  readonly byKey: (key: string) => Effect.Effect<MessageRow | undefined, StorageFailure>
  /**
   * Up to `limit` rows with `seq >= oldest`, strictly past `from` in the direction: backward is
   * newest first below `from`, forward is oldest first above it.
   */
  readonly range: (query: {
    readonly direction: "backward" | "forward"
    readonly from: number
    readonly oldest: number
    readonly limit: number
  }) => Effect.Effect<ReadonlyArray<MessageRow>, StorageFailure>
  /** Up to `limit` rows after `seq`, oldest first. */
  readonly after: (seq: number, limit: number) => Effect.Effect<ReadonlyArray<MessageRow>, StorageFailure>
  /** How many rows have `seq >= from`. */
  readonly countFrom: (from: number) => Effect.Effect<number, StorageFailure>
  /** Lowest stored seq, or null when none is stored. */
  readonly minSeq: Effect.Effect<number | null, StorageFailure>
  /** Newest `created_at`, or null when none is stored. */
  readonly lastCreatedAt: Effect.Effect<number | null, StorageFailure>
  /** Delete every row. */
  readonly deleteAll: Effect.Effect<void, WriteError>
  /** Delete rows past `seq`; returns how many. */
  readonly deleteAfter: (seq: number) => Effect.Effect<number, WriteError>
}

/**
 * The message log storage of one actor.
 *
 * @since 0.1.0
 * @category services
 */
export class MessageStore extends Context.Tag("durable-realtime/MessageStore")<MessageStore, MessageStoreShape>() {}

/** The table the SQLite layer needs; rooms and channels list it among their migrations. */
export const messageLogMigration = {
  name: "messages_001",
  statements: [
    `CREATE TABLE IF NOT EXISTS messages (
      seq INTEGER PRIMARY KEY,
      id TEXT NOT NULL,
      type TEXT NOT NULL,
      data TEXT NOT NULL,
      metadata TEXT,
      actor TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      idempotency_key TEXT
    )`,
    "CREATE UNIQUE INDEX IF NOT EXISTS messages_idempotency ON messages (idempotency_key) WHERE idempotency_key IS NOT NULL",
  ],
}

const INSERT = "INSERT INTO messages (seq, id, type, data, metadata, actor, created_at, idempotency_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
/**
 * A keyed row: the idempotency check and the insert as one statement (the partial unique index is
 * the check). Only a key conflict is skipped, so a taken `seq` still fails as a constraint
 * violation; the rows it wrote (0 when skipped) say whether the row went in.
 */
const INSERT_UNLESS_KEY_STORED = `${INSERT} ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING`
const BY_KEY = "SELECT * FROM messages WHERE idempotency_key = ?"
const PRUNE = "DELETE FROM messages WHERE seq < ?"
const INSERTED: AppendOutcome = { _tag: "Inserted" }

/** Insert a row (unless its key is stored: then that row). Made once, not per append: see `statementNow`. */
const insertRow = (exec: RawExec, run: RawRun, row: MessageRow): AppendOutcome => {
  if (row.idempotency_key === null) {
    run(INSERT, row.seq, row.id, row.type, row.data, row.metadata, row.actor, row.created_at, null)
    return INSERTED
  }
  if (run(INSERT_UNLESS_KEY_STORED, row.seq, row.id, row.type, row.data, row.metadata, row.actor, row.created_at, row.idempotency_key) > 0) return INSERTED
  const existing = exec<MessageRow>(BY_KEY, row.idempotency_key)[0]
  // The statement just met this key in the index; a missing row would be a broken database.
  if (existing === undefined) throw new Error(`messages: idempotency key ${row.idempotency_key} conflicted but no row holds it`)
  return { _tag: "Existing", row: existing }
}

/** `insertRow`, then (when the row went in) delete every row below `pruneBelow`: run in one transaction. */
const insertRowAndPrune = (exec: RawExec, run: RawRun, input: { readonly row: MessageRow; readonly pruneBelow: number }): AppendOutcome => {
  const outcome = insertRow(exec, run, input.row)
  if (outcome === INSERTED) run(PRUNE, input.pruneBelow)
  return outcome
}

/** The SQLite store over an actor's `Sql`. Statements are constant strings, so SQLite reuses them. */
export const makeSqlite = (sql: SqlShape): MessageStoreShape => {
  // The log's facts live in the actor's `_meta` table, under "epoch" and "seq_floor", as always.
  const facts = ActorFacts.makeSqlite(sql)
  return {
    load: Effect.gen(function* () {
      const floor = yield* facts.get<number>("seq_floor")
      const max = yield* sql.one<{ seq: number | null }>("SELECT MAX(seq) AS seq FROM messages")
      const min = yield* sql.one<{ seq: number | null }>("SELECT MIN(seq) AS seq FROM messages")
      const epoch = yield* facts.get<string>("epoch")
      return { minSeq: min?.seq ?? null, maxSeq: max?.seq ?? null, floor, epoch }
    }),
    saveEpoch: (epoch) => facts.set("epoch", epoch),
    saveFloor: (seq) => facts.set("seq_floor", seq),
    // One statement is atomic by itself (nothing else runs in between: this is synchronous), so
    // only an append that also prunes needs the transaction around its two statements.
    append: (row, pruneBelow) =>
      pruneBelow === undefined ? sql.statementNow(insertRow, row) : sql.transactionNow(insertRowAndPrune, { row, pruneBelow }),
    byKey: (key) => sql.one<MessageRow>(BY_KEY, key),
    range: ({ direction, from, oldest, limit }) =>
      direction === "backward"
        ? sql.all<MessageRow>("SELECT * FROM messages WHERE seq < ? AND seq >= ? ORDER BY seq DESC LIMIT ?", from, oldest, limit)
        : sql.all<MessageRow>("SELECT * FROM messages WHERE seq > ? AND seq >= ? ORDER BY seq ASC LIMIT ?", from, oldest, limit),
    after: (seq, limit) => sql.all<MessageRow>("SELECT * FROM messages WHERE seq > ? ORDER BY seq ASC LIMIT ?", seq, limit),
    countFrom: (from) =>
      Effect.map(sql.one<{ n: number }>("SELECT COUNT(*) AS n FROM messages WHERE seq >= ?", from), (row) => row?.n ?? 0),
    minSeq: Effect.map(sql.one<{ seq: number | null }>("SELECT MIN(seq) AS seq FROM messages"), (row) => row?.seq ?? null),
    lastCreatedAt: Effect.map(sql.one<{ at: number | null }>("SELECT MAX(created_at) AS at FROM messages"), (row) => row?.at ?? null),
    deleteAll: Effect.asVoid(sql.run("DELETE FROM messages")),
    deleteAfter: (seq) => sql.run("DELETE FROM messages WHERE seq > ?", seq),
  }
}

/**
 * In memory: rows sorted by seq, an index by idempotency key, the facts in fields. Lost when the
 * layer is; for tests of actor logic and for the conformance suite.
 */
export const makeMemory = (): MessageStoreShape => {
  let rows: Array<MessageRow> = []
  const keys = new Map<string, MessageRow>()
  let floor: number | undefined
  let epoch: string | undefined

  /** Index of the first row with seq >= `seq` (binary search: rows are sorted). */
  const lowerBound = (seq: number) => {
    let low = 0
    let high = rows.length
    while (low < high) {
      const mid = (low + high) >>> 1
      if (rows[mid]!.seq < seq) low = mid + 1
      else high = mid
    }
    return low
  }
  const dropWhere = (keep: (row: MessageRow) => boolean) => {
    const before = rows.length
    rows = rows.filter((row) => {
      if (keep(row)) return true
      if (row.idempotency_key !== null) keys.delete(row.idempotency_key)
      return false
    })
    return before - rows.length
  }

  return {
    load: Effect.sync(() => ({ minSeq: rows[0]?.seq ?? null, maxSeq: rows[rows.length - 1]?.seq ?? null, floor, epoch })),
    saveEpoch: (next) => Effect.sync(() => void (epoch = next)),
    saveFloor: (seq) => Effect.sync(() => void (floor = seq)),
    append: (row, pruneBelow): Either.Either<AppendOutcome, ConstraintViolation> => {
      if (row.idempotency_key !== null) {
        const existing = keys.get(row.idempotency_key)
        if (existing !== undefined) return Either.right({ _tag: "Existing", row: { ...existing } })
      }
      // As SQLite's primary key would: a seq is stored once.
      const at = lowerBound(row.seq)
      if (rows[at]?.seq === row.seq) return Either.left(new ConstraintViolation({ table: "messages", message: `UNIQUE constraint failed: messages.seq (${row.seq})` }))
      const stored = { ...row }
      rows.splice(at, 0, stored)
      if (stored.idempotency_key !== null) keys.set(stored.idempotency_key, stored)
      if (pruneBelow !== undefined) dropWhere((kept) => kept.seq >= pruneBelow)
      return Either.right(INSERTED)
    },
    byKey: (key) =>
      Effect.sync(() => {
        const row = keys.get(key)
        return row === undefined ? undefined : { ...row }
      }),
    range: ({ direction, from, oldest, limit }) =>
      Effect.sync(() => {
        if (direction === "backward") {
          const end = lowerBound(from)
          const start = Math.max(lowerBound(oldest), end - limit)
          return rows
            .slice(start, end)
            .reverse()
            .map((row) => ({ ...row }))
        }
        const start = Math.max(lowerBound(from + 1), lowerBound(oldest))
        return rows.slice(start, start + Math.max(0, limit)).map((row) => ({ ...row }))
      }),
    after: (seq, limit) =>
      Effect.sync(() => {
        const start = lowerBound(seq + 1)
        return rows.slice(start, start + Math.max(0, limit)).map((row) => ({ ...row }))
      }),
    countFrom: (from) => Effect.sync(() => rows.length - lowerBound(from)),
    minSeq: Effect.sync(() => rows[0]?.seq ?? null),
    lastCreatedAt: Effect.sync(() =>
      rows.reduce<number | null>((newest, row) => (newest === null || row.created_at > newest ? row.created_at : newest), null),
    ),
    deleteAll: Effect.sync(() => void dropWhere(() => false)),
    deleteAfter: (seq) => Effect.sync(() => dropWhere((row) => row.seq <= seq)),
  }
}

/**
 * The SQLite layer, over the actor's `Sql` (tables from `messageLogMigration` and `_meta`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerSqlite: Layer.Layer<MessageStore, never, Sql> = Layer.effect(MessageStore, Effect.map(Sql, makeSqlite))

/** The store's descriptor for an object kind's list of stores (`SqliteStores.ts`): built beside the others, with no Layer of its own. */
export const sqlite = sqliteStore(MessageStore, makeSqlite)

/**
 * A fresh in-memory store each time the layer is built.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory: Layer.Layer<MessageStore> = Layer.sync(MessageStore, makeMemory)
