/**
 * Writes through the Database API, with their outbox rows in the same SQLite transaction.
 *
 * A batch (one write, or a `transaction`) is decoded and checked first, as Effects: the table is
 * declared, the row passes the table's Schema, the locator names the primary key (and the shard
 * key), the write belongs to this shard. Then one `transactionSync` body applies every write,
 * reads the row's before/after images, and inserts one outbox row per change of a realtime table.
 * Any failure (a constraint, a missing row) rolls back the whole batch: a change is streamed if
 * and only if it committed.
 *
 * @since 0.1.0
 */
import { Effect, Either, Schema } from "effect"
import { InvalidInput, invalidInputFromParseError, NotFound, PayloadTooLarge, type ConstraintViolation, type StorageFailure } from "../RealtimeError.js"
import type { RawExec, RawRun, SqlShape, SqlValue } from "../services/Sql.js"
import type { ShardChange } from "./Protocol.js"
import type { DatabaseDefinition, ResolvedTable } from "./Declaration.js"
import { checkRowShape, oversize, utf8Length } from "./Guards.js"
import { OUTBOX_TABLE } from "./Names.js"
import { hubIdOf, shardOf } from "./Placement.js"
import { decodeRow, ident, selectList, storedValue, toSql, type DbRow } from "./Rows.js"
import { decodeInsert, decodePatch } from "./Table.js"

const noDelivery = () => {}

const Locator = Schema.Record({ key: Schema.String, value: Schema.Unknown })

export const WriteOp = Schema.Union(
  Schema.Struct({ op: Schema.Literal("insert"), table: Schema.String, row: Schema.Unknown }),
  Schema.Struct({ op: Schema.Literal("update"), table: Schema.String, where: Locator, patch: Schema.Unknown }),
  Schema.Struct({ op: Schema.Literal("delete"), table: Schema.String, where: Locator }),
)
export type WriteOp = typeof WriteOp.Type

export const MAX_BATCH = 100
/**
 * UTF-8 bytes of the row images one batch (a `transaction` or `insertMany`) may write, at least
 * `maxRowBytes`: a batch and its answer each cross one RPC (32 MiB, up to 2 bytes per character).
 */
export const MAX_BATCH_BYTES = 8 * 1_048_576
export const batchLimit = (definition: DatabaseDefinition) => Math.max(MAX_BATCH_BYTES, definition.maxRowBytes)

export const WriteBatch = Schema.Struct({
  writes: Schema.Array(WriteOp).pipe(Schema.minItems(1), Schema.maxItems(MAX_BATCH)),
  requestId: Schema.optional(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(128))),
})
export type WriteBatch = typeof WriteBatch.Type

/** A write ready to run: decoded, defaults filled, located. */
type Prepared =
  | { readonly op: "insert"; readonly table: ResolvedTable; readonly row: DbRow }
  | { readonly op: "update"; readonly table: ResolvedTable; readonly where: DbRow; readonly patch: DbRow }
  | { readonly op: "delete"; readonly table: ResolvedTable; readonly where: DbRow }

export interface WriteResult {
  readonly op: "insert" | "update" | "delete"
  readonly table: string
  /** The row after the write; for a delete, the row that was deleted. */
  readonly row: DbRow
}

// Synchronous checks (Either): the shard's write path runs them in the RPC's own turn with no fiber;
// an Either is also an Effect, so the Effect handlers `yield*` them as they are.
export const tableOf = (definition: DatabaseDefinition, name: string, field = "table"): Either.Either<ResolvedTable, InvalidInput> => {
  const table = definition.tables.get(name)
  return table === undefined
    ? Either.left(new InvalidInput({ field, message: `${field}: database ${definition.name} has no table "${name}"` }))
    : Either.right(table)
}

const decodeColumn = (table: ResolvedTable, column: string, value: unknown, field: string) =>
  Either.mapLeft(Schema.decodeUnknownEither(table.table.columns[column].schema)(value), (error) => invalidInputFromParseError(error, field))

/** Decode a locator: the primary key, and the shard key when it is another column. */
export const decodeLocator = (definition: DatabaseDefinition, table: ResolvedTable, where: Record<string, unknown>, field = "where") =>
  Either.gen(function* () {
    const located: DbRow = {}
    for (const column of Object.keys(where)) {
      if (column !== table.primaryKey && column !== table.shardColumn) {
        return yield* Either.left(new InvalidInput({ field: `${field}.${column}`, message: `${field}.${column}: locate a ${table.name} row by ${table.primaryKey}${table.shardColumn === table.primaryKey ? "" : ` and ${table.shardColumn}`} only` }))
      }
    }
    if (where[table.primaryKey] === undefined) return yield* Either.left(new InvalidInput({ field: `${field}.${table.primaryKey}`, message: `${field}.${table.primaryKey}: the primary key is required` }))
    located[table.primaryKey] = yield* decodeColumn(table, table.primaryKey, where[table.primaryKey], `${field}.${table.primaryKey}`)
    if (table.shardColumn !== table.primaryKey) {
      if (where[table.shardColumn] === undefined) {
        return yield* Either.left(new InvalidInput({ field: `${field}.${table.shardColumn}`, message: `${field}.${table.shardColumn}: ${table.name} rows are placed by ${table.shardColumn}; pass it with the primary key` }))
      }
      located[table.shardColumn] = yield* decodeColumn(table, table.shardColumn, where[table.shardColumn], `${field}.${table.shardColumn}`)
    }
    return located
  })

/** The shard a row or locator belongs to. */
export const shardOfRow = (definition: DatabaseDefinition, table: ResolvedTable, row: DbRow) => shardOf(row[table.shardColumn], definition.shards)

/** An insert, the hot case, without a generator: the same checks in the same order as `prepareChange`'s. */
const prepareInsert = (definition: DatabaseDefinition, write: Extract<WriteOp, { readonly op: "insert" }>, index: number): Either.Either<Prepared, InvalidInput | PayloadTooLarge> => {
  const shape = checkRowShape(write.row, `writes.${index}.row`, definition.maxRowBytes)
  if (shape !== undefined) return Either.left(shape)
  const located = tableOf(definition, write.table, `writes.${index}.table`)
  if (Either.isLeft(located)) return Either.left(located.left)
  const table = located.right
  const decoded = decodeInsert(table.table)(write.row)
  if (Either.isLeft(decoded)) return Either.left(invalidInputFromParseError(decoded.left, `writes.${index}.row`))
  const row: DbRow = {}
  for (const [column, spec] of table.columns) row[column] = decoded.right[column] !== undefined ? decoded.right[column] : spec.default !== undefined ? spec.default : null
  return Either.right({ op: "insert", table, row })
}

const prepare = (definition: DatabaseDefinition, write: WriteOp, index: number): Either.Either<Prepared, InvalidInput | PayloadTooLarge> =>
  write.op === "insert" ? prepareInsert(definition, write, index) : prepareChange(definition, write, index)

const prepareChange = (definition: DatabaseDefinition, write: Exclude<WriteOp, { readonly op: "insert" }>, index: number): Either.Either<Prepared, InvalidInput | PayloadTooLarge> =>
  Either.gen(function* () {
    const field = `writes.${index}`
    const shape = checkRowShape(write.where, `${field}.where`, definition.maxRowBytes) ?? (write.op === "update" ? checkRowShape(write.patch, `${field}.patch`, definition.maxRowBytes) : undefined)
    if (shape !== undefined) return yield* Either.left(shape)
    const table = yield* tableOf(definition, write.table, `${field}.table`)
    switch (write.op) {
      case "update": {
        const where = yield* decodeLocator(definition, table, write.where, `${field}.where`)
        const patch = yield* Either.mapLeft(decodePatch(table.table)(write.patch), (error) => invalidInputFromParseError(error, `${field}.patch`))
        const keys = Object.keys(patch).filter((column) => patch[column] !== undefined)
        if (keys.length === 0) return yield* Either.left(new InvalidInput({ field: `${field}.patch`, message: `${field}.patch: names no column to change` }))
        for (const fixed of new Set([table.primaryKey, table.shardColumn])) {
          if (patch[fixed] !== undefined && where[fixed] !== undefined && patch[fixed] !== where[fixed]) {
            return yield* Either.left(new InvalidInput({ field: `${field}.patch.${fixed}`, message: `${field}.patch.${fixed}: ${fixed} places the row and cannot change; delete and insert instead` }))
          }
        }
        return { op: "update", table, where, patch: Object.fromEntries(keys.map((k) => [k, patch[k]])) }
      }
      case "delete":
        return { op: "delete", table, where: yield* decodeLocator(definition, table, write.where, `${field}.where`) }
    }
  })

/** Decode a batch and check every write belongs to `shard`. */
export const prepareBatch = (definition: DatabaseDefinition, batch: WriteBatch, shard: number): Either.Either<ReadonlyArray<Prepared>, InvalidInput | PayloadTooLarge> => {
  const all: Array<Prepared> = []
  for (const [index, write] of batch.writes.entries()) {
    const prepared = prepare(definition, write, index)
    if (Either.isLeft(prepared)) return Either.left(prepared.left)
    const located = prepared.right.op === "insert" ? prepared.right.row : prepared.right.where
    const home = shardOfRow(definition, prepared.right.table, located)
    if (home !== shard) {
      return Either.left(new InvalidInput({ field: `writes.${index}`, message: `writes.${index}: this ${prepared.right.table.name} row is placed on shard ${home}, not ${shard}; a transaction covers one shard key` }))
    }
    all.push(prepared.right)
  }
  return Either.right(all)
}

const whereClause = (table: ResolvedTable, where: DbRow) => {
  const specs = new Map(table.columns)
  const columns = Object.keys(where)
  return {
    sql: columns.map((column) => `${ident(column)} = ?`).join(" AND "),
    params: columns.map((column) => toSql(specs.get(column)!, where[column])),
  }
}

const readRow = (exec: RawExec, table: ResolvedTable, where: DbRow): DbRow | undefined => {
  const clause = whereClause(table, where)
  const raw = exec(`SELECT ${selectList(table)} FROM ${ident(table.name)} WHERE ${clause.sql}`, ...clause.params)[0]
  return raw === undefined ? undefined : decodeRow(table, raw)
}

/** A change of a table whose stream its shard hosts, with the hubs (partitions) it goes to. */
export interface InlineChange {
  readonly hubs: ReadonlyArray<string>
  readonly change: ShardChange
}

/** Changes grouped by the hub (partition) each goes to, in their order; a change for two hubs is in both lists. */
export const changesByHub = (changes: ReadonlyArray<InlineChange>): Map<string, Array<ShardChange>> => {
  const byHub = new Map<string, Array<ShardChange>>()
  for (const { hubs, change } of changes) {
    for (const hub of hubs) {
      const list = byHub.get(hub)
      if (list === undefined) byHub.set(hub, [change])
      else list.push(change)
    }
  }
  return byHub
}

/** A change left for the drain, as committed: its outbox id, hubs and image characters (the drain's `size`). */
export interface DrainedChange extends InlineChange {
  readonly chars: number
}

/**
 * Streams the shard hosts and may append to inside the write's own transaction (see
 * `shard/ShardStreams.ts`): a change they take is stored with its outbox row already published.
 */
export interface InlineStreams {
  readonly shard: number
  readonly takes: (table: ResolvedTable) => boolean
  /** Called last inside the transaction with the batch's changes they take, in order; answers what to run after the commit. */
  readonly append: (exec: RawExec, changes: ReadonlyArray<InlineChange>) => () => void
}

/**
 * A table's insert statement, built once per table (it is the same text for every row). No
 * RETURNING: every column is bound, so the stored row is the bound row as SQLite converts it
 * (`Rows.storedValue`), built in JavaScript without reading result rows back.
 */
const insertStatements = new WeakMap<ResolvedTable, string>()
export const insertStatement = (table: ResolvedTable): string => {
  let statement = insertStatements.get(table)
  if (statement === undefined) {
    const columns = table.columns.map(([name]) => ident(name))
    statement = `INSERT INTO ${ident(table.name)} (${columns.join(", ")}) VALUES (${columns.map(() => "?").join(", ")})`
    insertStatements.set(table, statement)
  }
  return statement
}

/** Insert a prepared row; answers the row as stored (what a RETURNING of every column would decode to). */
const insertRow = (run: RawRun, table: ResolvedTable, prepared: DbRow): DbRow => {
  const params: Array<SqlValue> = []
  const row: DbRow = {}
  for (const [column, spec] of table.columns) {
    params.push(toSql(spec, prepared[column]))
    row[column] = storedValue(spec, prepared[column])
  }
  run(insertStatement(table), ...params)
  return row
}

/** Where a batch commits and how large it may be; `inline`: the streams its shard hosts. */
export interface BatchMeta {
  readonly shard: number
  readonly requestId: string
  readonly now: number
  readonly maxRowBytes: number
  readonly maxBatchBytes: number
  readonly inline?: InlineStreams | undefined
}

// The outbox inserts' text, built once: a hosted change's row is stored published, its stream takes it in the same transaction.
const OUTBOX_COLUMNS = "table_name, event, row_key, old_row, new_row, request_id, created_at, hubs, size"
export const INSERT_OUTBOX = `INSERT INTO ${OUTBOX_TABLE} (${OUTBOX_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`
export const INSERT_OUTBOX_PUBLISHED = `INSERT INTO ${OUTBOX_TABLE} (${OUTBOX_COLUMNS}, published_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`

/**
 * One batch's commit in progress: the changes its writes leave for the shard's streams and for the
 * drain, its bytes so far, and the typed refusal found inside the synchronous body (thrown to roll
 * back, then restored). A class, so a write allocates one object rather than a closure per helper.
 */
class BatchCommit {
  readonly inlined: Array<InlineChange> = []
  /** The batch's changes left for the drain, as stored (outbox id included): the shard may send them at once (`shard/DirectSend.ts`). */
  readonly drained: Array<DrainedChange> = []
  refused: NotFound | PayloadTooLarge | undefined = undefined
  batchBytes = 0
  constructor(readonly meta: BatchMeta) {}

  /** The row as JSON, refused (rolling the batch back) when it is over `maxRowBytes`. */
  encodeRow(table: ResolvedTable, row: DbRow, index: number): string {
    const meta = this.meta
    const json = JSON.stringify(row)
    const size = oversize(json, meta.maxRowBytes)
    if (size !== undefined) {
      throw (this.refused = new PayloadTooLarge({ field: `writes.${index}.row`, size, limit: meta.maxRowBytes, message: `writes.${index}.row: a ${table.name} row of ${size} bytes is over maxRowBytes (${meta.maxRowBytes})` }))
    }
    this.batchBytes += utf8Length(json)
    if (this.batchBytes > meta.maxBatchBytes) {
      const size = this.batchBytes
      throw (this.refused = new PayloadTooLarge({ field: "writes", size, limit: meta.maxBatchBytes, message: `writes: the batch's rows are over ${meta.maxBatchBytes} bytes (at writes.${index}); split it into smaller batches` }))
    }
    return json
  }

  outbox(exec: RawExec, table: ResolvedTable, event: ShardChange["event"], old: DbRow | null, row: DbRow | null, index: number): void {
    // Every written row is measured; a streamed one reuses that JSON as its outbox image.
    const next = row === null ? null : this.encodeRow(table, row, index)
    if (table.realtime === undefined) return
    const { meta } = this
    const key = (event === "delete" ? old : row)![table.realtime.key]
    const previous = old === null ? null : JSON.stringify(old)
    const size = (previous?.length ?? 0) + (next?.length ?? 0)
    // The drain routes and sizes batches from these two columns, never loading images to do so.
    const hubs = old === null || row === null ? [hubIdOf(table, (old ?? row)!)] : [...new Set([hubIdOf(table, old), hubIdOf(table, row)])]
    const inline = meta.inline
    if (inline !== undefined && inline.takes(table)) {
      const id = exec<{ id: number }>(INSERT_OUTBOX_PUBLISHED, table.name, event, JSON.stringify(key), previous, next, meta.requestId, meta.now, JSON.stringify(hubs), size, meta.now)[0]!.id
      this.inlined.push({ hubs, change: { shard: inline.shard, outboxId: id, table: table.name, event, old, new: row, requestId: meta.requestId, createdAt: meta.now } })
      return
    }
    const id = exec<{ id: number }>(INSERT_OUTBOX, table.name, event, JSON.stringify(key), previous, next, meta.requestId, meta.now, JSON.stringify(hubs), size)[0]!.id
    this.drained.push({ hubs, chars: size, change: { shard: meta.shard, outboxId: id, table: table.name, event, old, new: row, requestId: meta.requestId, createdAt: meta.now } })
  }

  missing(table: ResolvedTable, where: DbRow): NotFound {
    return (this.refused = new NotFound({ what: table.name, message: `${table.name} ${JSON.stringify(where)} does not exist` }))
  }

  /** One prepared write and its outbox row, inside the batch's transaction. */
  apply(exec: RawExec, run: RawRun, write: Prepared, index: number): WriteResult {
    const table = write.table
    switch (write.op) {
      case "insert": {
        const row = insertRow(run, table, write.row)
        this.outbox(exec, table, "insert", null, row, index)
        return { op: "insert", table: table.name, row }
      }
      case "update": {
        const old = readRow(exec, table, write.where)
        if (old === undefined) throw this.missing(table, write.where)
        const columns = Object.keys(write.patch)
        const clause = whereClause(table, write.where)
        const row = decodeRow(
          table,
          exec(
            `UPDATE ${ident(table.name)} SET ${columns.map((column) => `${ident(column)} = ?`).join(", ")} WHERE ${clause.sql} RETURNING ${selectList(table)}`,
            ...columns.map((column) => toSql(table.columns.find(([name]) => name === column)![1], write.patch[column])),
            ...clause.params,
          )[0],
        )
        this.outbox(exec, table, "update", old, row, index)
        return { op: "update", table: table.name, row }
      }
      case "delete": {
        const old = readRow(exec, table, write.where)
        if (old === undefined) throw this.missing(table, write.where)
        const clause = whereClause(table, write.where)
        exec(`DELETE FROM ${ident(table.name)} WHERE ${clause.sql}`, ...clause.params)
        this.outbox(exec, table, "delete", old, null, index)
        return { op: "delete", table: table.name, row: old }
      }
    }
  }
}

/**
 * Apply a prepared batch in one transaction with its outbox rows, synchronously. Fails with `NotFound` for a
 * missing row, `ConstraintViolation` for a failed constraint; either way nothing is stored.
 * `inline`: changes its streams take are appended to them in the same transaction; `delivered`,
 * run once it committed, fans them out.
 */
export const applyBatchNow = (
  sql: SqlShape,
  prepared: ReadonlyArray<Prepared>,
  meta: BatchMeta,
): Either.Either<
  { readonly results: ReadonlyArray<WriteResult>; readonly delivered: () => void; readonly drained: ReadonlyArray<DrainedChange> },
  NotFound | PayloadTooLarge | StorageFailure | ConstraintViolation
> => {
  const batch = new BatchCommit(meta)
  const outcome = sql.transactionNow((exec, run) => {
    const results: Array<WriteResult> = []
    for (let index = 0; index < prepared.length; index++) results.push(batch.apply(exec, run, prepared[index], index))
    const delivered = meta.inline === undefined || batch.inlined.length === 0 ? noDelivery : meta.inline.append(exec, batch.inlined)
    return { results, delivered, drained: batch.drained }
  })
  return Either.isRight(outcome) ? outcome : Either.left(batch.refused ?? outcome.left)
}

/** `applyBatchNow` as an Effect. */
export const applyBatch = (...args: Parameters<typeof applyBatchNow>) => Effect.suspend(() => applyBatchNow(...args))
