/**
 * The Database API as Effects: `table(name).insert/update/delete/get/select`, `transaction`, and
 * `realtime.authorize`. Every failure is typed (`InvalidInput` for a row or query the table's
 * Schema refuses, `NotFound`, `ConstraintViolation`, `StorageFailure`) and leaves nothing stored.
 *
 * The Worker only routes: a write goes to the shard of its shard key (see `Placement.ts`) and is
 * decoded and checked there; a `select` without the shard key reads every shard and merges pages.
 *
 * @since 0.1.0
 */
import { Effect, Schema } from "effect"
import { invalidInputFromParseError, InvalidInput, NotFound, PayloadTooLarge, type RealtimeError } from "../RealtimeError.js"
import { ambientRequest, settleExit } from "../internal/PromiseFacade.js"
import { actorTarget, callActor, invokeTarget, type ActorNamespace, type CallOptions } from "../internal/rpc.js"
import * as Operations from "../internal/Operations.js"
import { requestStubs } from "../internal/ObjectStubs.js"
import { DbShardOps } from "./Ops.js"
import { authorizeTable, type DbAuthorizeInput } from "./Authorize.js"
import { characters, checkRowShape } from "./Guards.js"
import type { ChangeEvent, DatabaseDefinition, ResolvedTable, Schemas } from "./Declaration.js"
import { shardId, shardIndexOf, shardName, shardOf } from "./Placement.js"
import type { DbGrant } from "./Protocol.js"
import { mergePages, SelectQuery } from "./Query.js"
import type { InsertOf, PatchOf, RowOf, Table } from "./Table.js"
import { batchLimit, MAX_BATCH, type WriteOp, type WriteResult } from "./Writes.js"

type Op<A> = Effect.Effect<A, RealtimeError>

/** What `outbox(shard)` answers. */
export interface OutboxStats {
  readonly shard: string
  /** Changes not yet acknowledged by every hub they go to (a parked one until its gap marker is). */
  readonly pending: number
  /** Changes parked after `deliveryAttempts` failed deliveries (kept, never pruned). */
  readonly parked: number
  /** The last rows, newest first. */
  readonly rows: Array<OutboxEntry>
  /** The last parked rows, newest first, with their last `error`. */
  readonly parkedRows: Array<OutboxEntry>
}

export interface OutboxEntry {
  readonly id: number
  readonly table_name: string
  readonly event: string
  readonly row_key: string
  readonly request_id: string
  readonly created_at: number
  readonly published_at: number | null
  /** Characters of the change's images. */
  readonly size: number
  readonly attempts: number
  readonly retry_at: number | null
  readonly parked_at: number | null
  readonly error: string | null
  readonly [column: string]: unknown
}

export interface WriteOptions {
  /** Travels with the change to subscribers (`requestId`); generated when left out. */
  readonly requestId?: string
}

/** A row's locator: its primary key, plus its shard key when that is another column. */
export type Locator<T extends Table> = Partial<RowOf<T>>

export interface Select<T extends Table> {
  readonly where?: Partial<RowOf<T>>
  readonly limit?: number
  readonly order?: { readonly column: keyof T["columns"] & string; readonly direction?: "asc" | "desc" }
  readonly cursor?: string | null
}

export interface TableHandle<T extends Table> {
  readonly insert: (row: InsertOf<T>, options?: WriteOptions) => Op<RowOf<T>>
  /**
   * Up to 100 rows of one shard-key value, inserted in one SQLite transaction with their outbox
   * rows and streamed in one drain round: all are stored, or none (the first refused row's typed
   * error). Each row is bounded by `maxRowBytes`, the batch by `MAX_BATCH_BYTES` (8 MiB).
   */
  readonly insertMany: (rows: ReadonlyArray<InsertOf<T>>, options?: WriteOptions) => Op<ReadonlyArray<RowOf<T>>>
  readonly update: (where: Locator<T>, patch: PatchOf<T>, options?: WriteOptions) => Op<RowOf<T>>
  /** Deletes the row and returns it as it was. */
  readonly delete: (where: Locator<T>, options?: WriteOptions) => Op<RowOf<T>>
  /** The row, or `null`. */
  readonly get: (where: Locator<T>) => Op<RowOf<T> | null>
  readonly select: (query?: Select<T>) => Op<{ readonly rows: ReadonlyArray<RowOf<T>>; readonly nextCursor: string | null }>
}

/** One write of a `transaction`. */
export type Write<S extends Schemas> = {
  [K in keyof S & string]:
    | { readonly op: "insert"; readonly table: K; readonly row: InsertOf<S[K]> }
    | { readonly op: "update"; readonly table: K; readonly where: Locator<S[K]>; readonly patch: PatchOf<S[K]> }
    | { readonly op: "delete"; readonly table: K; readonly where: Locator<S[K]> }
}[keyof S & string]

export interface RealtimeAuthorizeInput<S extends Schemas> {
  readonly table: keyof S & string
  readonly filters?: Record<string, string | number | boolean | null>
  readonly events?: ReadonlyArray<ChangeEvent>
  readonly ttlSeconds?: number
  readonly actor: DbAuthorizeInput["actor"]
  readonly baseUrl?: string
}

export interface DatabaseService<S extends Schemas> {
  readonly definition: DatabaseDefinition
  readonly table: <K extends keyof S & string>(name: K) => TableHandle<S[K]>
  /** Several writes, on the tables of one shard key, committed together or not at all. */
  readonly transaction: (shardKey: string | number, writes: ReadonlyArray<Write<S>>, options?: WriteOptions) => Op<ReadonlyArray<WriteResult>>
  readonly realtime: { readonly authorize: (input: RealtimeAuthorizeInput<S>) => Op<DbGrant> }
  /** The outbox of one shard (by index or name, `DB_SHARD_0000`): pending, parked and last rows, for operators. */
  readonly outbox: (shard: number | string) => Op<OutboxStats>
}

/** A one-row write placed on its shard, or the typed reason it is refused in the Worker, before any call. */
type Located = { readonly shard: number; readonly write: WriteOp } | { readonly refused: InvalidInput | PayloadTooLarge }

/**
 * Check a one-row write (`insert`, `update`, `delete`) as far as the Worker can: hostile shapes and
 * plainly oversized values refused here (they must not reach the RPC layer), the table known, the
 * shard placed from the shard-key column. The shard decodes and checks the rest.
 */
const locateWrite = (definition: DatabaseDefinition, write: WriteOp): Located => {
  // The values in the order their problems are reported: an update's locator before its patch.
  const problem =
    write.op === "insert"
      ? checkRowShape(write.row, "row", definition.maxRowBytes)
      : (checkRowShape(write.where, "where", definition.maxRowBytes) ?? (write.op === "update" ? checkRowShape(write.patch, "patch", definition.maxRowBytes) : undefined))
  if (problem !== undefined) return { refused: problem }
  const table = definition.tables.get(write.table)
  if (table === undefined) return { refused: new InvalidInput({ field: "table", message: `table: ${definition.name} has no table "${write.table}"` }) }
  const [located, field] = write.op === "insert" ? [write.row, "row"] : [write.where, "where"]
  const value = located !== null && typeof located === "object" ? (located as Record<string, unknown>)[table.shardColumn] : undefined
  if (value === undefined || value === null || (typeof value !== "string" && typeof value !== "number")) {
    return { refused: new InvalidInput({ field: `${field}.${table.shardColumn}`, message: `${field}.${table.shardColumn}: ${table.name} rows are placed by ${table.shardColumn}; it is required` }) }
  }
  return { shard: shardOf(value, definition.shards), write }
}

/** A call outside any known request (a stub per call), its input sent as it is or checked by `plainInput`. */
const PLAIN_CALL: CallOptions = { plain: true }
const ONE_CALL: CallOptions = {}

/**
 * An object of `Object.prototype` whose values are all scalars (or null): nothing in it that
 * `rpc.plainInput` would copy (a null-prototype object anywhere) or refuse (nesting), so a batch
 * built around it skips that walk (~2 µs a write in the db benchmark's perf profile).
 */
const isFlatPlain = (value: unknown): boolean => {
  if (value === null || typeof value !== "object" || Object.getPrototypeOf(value) !== Object.prototype) return false
  for (const key in value) {
    const item = (value as Record<string, unknown>)[key]
    if (item !== null && typeof item === "object") return false
  }
  return true
}

const batchOf = (write: WriteOp, options: WriteOptions | undefined) => (options?.requestId === undefined ? { writes: [write] } : { writes: [write], requestId: options.requestId })

/** The row of a one-write answer: as the shard built it when `writeResultsAsIs` takes it, else decoded with the operation's Schema (its typed error thrown). */
const rowOfAnswer = (answer: unknown): Record<string, unknown> => (DbShardOps.write.trustedSuccess(answer) ?? settleExit(DbShardOps.write.decodeAnswerExit(answer)))[0].row

/**
 * The one-row writes of a table as Promises, without the Effect runtime: the Promise facade's hot
 * path (a fiber per call was ~12 % of a database write's CPU in the db benchmark). The same checks
 * (`locateWrite`), the same request and stub handling (`invokeTarget`), the answer decoded with the
 * operation's Schema, and the same typed rejections as running the Effect form with `runToPromise`.
 */
export const makeWritesNow = (definition: DatabaseDefinition, env: Record<string, unknown>) => {
  // Each shard's address and object name, made once: a write only picks its shard's.
  const targets = Array.from({ length: definition.shards }, (_, shard) => actorTarget("dbShard", { instance: definition.instance, id: shardId(shard) }))
  // Bindings do not change while the isolate lives; `env` may be the runtime's proxy, whose every read looks up the current env (~4 µs a write).
  let namespace: ActorNamespace | undefined
  const writeNow = (write: WriteOp, options: WriteOptions | undefined): Promise<unknown> => {
    const located = locateWrite(definition, write)
    if ("refused" in located) return Promise.reject(located.refused)
    namespace ??= env[definition.bindings.shards] as ActorNamespace | undefined
    if (namespace === undefined) return Promise.reject(new InvalidInput({ field: "bindings.shards", message: `no Durable Object binding ${definition.bindings.shards}` }))
    // Inside a request made ambient (`worker(...)`, `withRequest`), its writes share one stub per shard, and from the second on one RPC session.
    const stubs = requestStubs(ambientRequest())
    // Flat values of Object.prototype (the usual row) need no `plainInput` walk: the batch around them is built here.
    const plain = write.op === "insert" ? isFlatPlain(write.row) : isFlatPlain(write.where) && (write.op === "delete" || isFlatPlain(write.patch))
    const call: CallOptions = stubs === undefined ? (plain ? PLAIN_CALL : ONE_CALL) : plain ? { stubs, session: true, plain: true } : { stubs, session: true }
    return invokeTarget(namespace, targets[located.shard]!, DbShardOps.write.name, batchOf(write, options), undefined, call, rowOfAnswer)
  }
  return (name: string) => ({
    insert: (row: unknown, options?: WriteOptions) => writeNow({ op: "insert", table: name, row }, options),
    update: (where: Record<string, unknown>, patch: unknown, options?: WriteOptions) => writeNow({ op: "update", table: name, where, patch }, options),
    delete: (where: Record<string, unknown>, options?: WriteOptions) => writeNow({ op: "delete", table: name, where }, options),
  })
}

export const makeDatabase = <S extends Schemas>(definition: DatabaseDefinition, env: Record<string, unknown>): DatabaseService<S> => {
  const shards = () => {
    const namespace = env[definition.bindings.shards] as ActorNamespace | undefined
    return namespace === undefined
      ? Effect.fail(new InvalidInput({ field: "bindings.shards", message: `no Durable Object binding ${definition.bindings.shards}` }))
      : Effect.succeed(namespace)
  }
  const call = <O extends Operations.Any>(shard: number, op: O, input: Operations.PayloadEncoded<O>) =>
    Effect.flatMap(shards(), (namespace) => callActor(namespace, "dbShard", { instance: definition.instance, id: shardId(shard) }, op, input))

  const resolve = (name: string): Effect.Effect<ResolvedTable, InvalidInput> => {
    const table = definition.tables.get(name)
    return table === undefined ? Effect.fail(new InvalidInput({ field: "table", message: `table: ${definition.name} has no table "${name}"` })) : Effect.succeed(table)
  }

  /** The shard of a row or locator, from its shard-key column. */
  const placed = (table: ResolvedTable, located: unknown, field: string): Effect.Effect<number, InvalidInput> => {
    const value = located !== null && typeof located === "object" ? (located as Record<string, unknown>)[table.shardColumn] : undefined
    if (value === undefined || value === null || (typeof value !== "string" && typeof value !== "number")) {
      return Effect.fail(new InvalidInput({ field: `${field}.${table.shardColumn}`, message: `${field}.${table.shardColumn}: ${table.name} rows are placed by ${table.shardColumn}; it is required` }))
    }
    return Effect.succeed(shardOf(value, definition.shards))
  }

  /** A batch plainly over its byte limit (characters never exceed UTF-8 bytes); the shard checks the exact bytes. */
  const guardBatch = (values: ReadonlyArray<unknown>, field: string): Effect.Effect<void, PayloadTooLarge> => {
    const limit = batchLimit(definition)
    let chars = 0
    for (const value of values) chars += characters(value)
    return chars > limit ? Effect.fail(new PayloadTooLarge({ field, size: chars, limit, message: `${field}: the batch's rows are over ${limit} bytes; split it into smaller batches` })) : Effect.void
  }
  /** Refuse hostile shapes and plainly oversized rows here: they must not reach the RPC layer. */
  const guard = (writes: ReadonlyArray<unknown>): Effect.Effect<void, InvalidInput | PayloadTooLarge> => {
    for (const [index, write] of writes.entries()) {
      const problem = checkRowShape(write, `writes.${index}`, definition.maxRowBytes * 2 + 4_096)
      if (problem !== undefined) return Effect.fail(problem)
    }
    return guardBatch(writes, "writes")
  }
  const guardOne = (value: unknown, field: string): Effect.Effect<void, InvalidInput | PayloadTooLarge> => {
    const problem = checkRowShape(value, field, definition.maxRowBytes)
    return problem === undefined ? Effect.void : Effect.fail(problem)
  }

  const writeOne = (write: WriteOp, options: WriteOptions | undefined) =>
    Effect.suspend(() => {
      const located = locateWrite(definition, write)
      return "refused" in located ? Effect.fail(located.refused) : Effect.map(call(located.shard, DbShardOps.write, batchOf(write, options)), (results) => results[0].row)
    })

  const table = <K extends keyof S & string>(name: K): TableHandle<S[K]> => {
    const handle: TableHandle<Table> = {
      insert: (row, options) => writeOne({ op: "insert", table: name, row }, options),
      insertMany: (rows, options) =>
        Effect.gen(function* () {
          if (!Array.isArray(rows)) return yield* new InvalidInput({ field: "rows", message: "rows: a list of rows" })
          if (rows.length === 0 || rows.length > MAX_BATCH) return yield* new InvalidInput({ field: "rows", message: `rows: 1 to ${MAX_BATCH} rows per insertMany (got ${rows.length})` })
          const t = yield* resolve(name)
          for (const [index, row] of rows.entries()) yield* guardOne(row, `rows.${index}`)
          yield* guardBatch(rows, "rows")
          // One shard-key value for the batch: it is one transaction on one shard.
          const key = (rows[0] as Record<string, unknown>)[t.shardColumn]
          const shard = yield* placed(t, rows[0], "rows.0")
          for (const [index, row] of rows.entries()) {
            if ((row as Record<string, unknown>)[t.shardColumn] !== key) {
              return yield* new InvalidInput({ field: `rows.${index}.${t.shardColumn}`, message: `rows.${index}.${t.shardColumn}: every row of one insertMany has the same ${t.shardColumn} (${JSON.stringify(key)}); it is one transaction on one shard` })
            }
          }
          const writes = rows.map((row): WriteOp => ({ op: "insert", table: name, row }))
          const results = yield* call(shard, DbShardOps.write, { writes, ...(options?.requestId === undefined ? {} : { requestId: options.requestId }) })
          return results.map((result) => result.row)
        }) as Op<never>,
      update: (where, patch, options) => writeOne({ op: "update", table: name, where, patch }, options),
      delete: (where, options) => writeOne({ op: "delete", table: name, where }, options),
      get: (where) =>
        Effect.zipRight(
          guardOne(where, "where"),
          Effect.flatMap(resolve(name), (t) => Effect.flatMap(placed(t, where, "where"), (shard) => call(shard, DbShardOps.get, { table: name, where }))),
        ) as Op<never>,
      select: (raw = {}) =>
        Effect.gen(function* () {
          const t = yield* resolve(name)
          const query = yield* Effect.mapError(Schema.decodeUnknown(SelectQuery)(raw), (error) => invalidInputFromParseError(error, "query"))
          const key = query.where?.[t.shardColumn]
          const targets = key !== undefined && key !== null && typeof key !== "boolean" ? [shardOf(key, definition.shards)] : Array.from({ length: definition.shards }, (_, n) => n)
          const pages = yield* Effect.forEach(targets, (shard) => call(shard, DbShardOps.select, { table: name, query: raw }), { concurrency: "unbounded" })
          return mergePages(t, query, pages)
        }) as Op<never>,
    }
    return handle as unknown as TableHandle<S[K]>
  }

  return {
    definition,
    table,
    transaction: (shardKey, writes, options) =>
      Effect.gen(function* () {
        if (typeof shardKey !== "string" && typeof shardKey !== "number") return yield* new InvalidInput({ field: "shardKey", message: "shardKey: a string or number" })
        if (!Array.isArray(writes)) return yield* new InvalidInput({ field: "writes", message: "writes: a list of writes" })
        yield* guard(writes)
        return yield* call(shardOf(shardKey, definition.shards), DbShardOps.write, { writes, ...(options?.requestId === undefined ? {} : { requestId: options.requestId }) })
      }),
    realtime: {
      authorize: (input) => {
        const request = ambientRequest()
        return authorizeTable(definition, env, input as DbAuthorizeInput, request === undefined ? undefined : new URL(request.url).origin)
      },
    },
    outbox: (shard) => {
      const index = shardIndexOf(shard, definition.shards)
      if (index === undefined) {
        return Effect.fail(new NotFound({ what: "shard", message: `${definition.name} has no shard ${JSON.stringify(shard)} (it has ${definition.shards}: ${shardName(0)}${definition.shards > 1 ? `..${shardName(definition.shards - 1)}` : ""})` }))
      }
      return call(index, DbShardOps.outbox, {})
    },
  }
}
