/**
 * The operations of database shards and table hubs, declared once (see `internal/Operations.ts`):
 * the shard and hub actors implement them, the Worker's database handles, the shard's drain and
 * the hub's snapshot reads call them, and every answer is decoded with its success Schema.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import * as Operations from "../internal/Operations.js"
import { checkPublishChanges, PublishChanges, publishAppliedAsIs } from "./Protocol.js"
import { SelectQuery } from "./Query.js"
import { WriteBatch } from "./Writes.js"

const Row = Schema.Record({ key: Schema.String, value: Schema.Unknown })

/** One write's outcome: the row after it (for a delete, the row deleted). */
export const WriteResultSchema = Schema.Struct({ op: Schema.Literal("insert", "update", "delete"), table: Schema.String, row: Row })

/** A page of rows from one shard (`select`). */
export const PageSchema = Schema.Struct({ rows: Schema.Array(Row), nextCursor: Schema.NullOr(Schema.String) })

/** A page and the outbox position it reflects, read in one step (`snapshot`). */
export const ShardSnapshot = Schema.Struct({ ...PageSchema.fields, shard: Schema.Number, watermark: Schema.Number })

/** The outbox columns operators see. */
export const OutboxColumns = Schema.Struct({
  id: Schema.Number,
  table_name: Schema.String,
  event: Schema.String,
  row_key: Schema.String,
  request_id: Schema.String,
  created_at: Schema.Number,
  published_at: Schema.NullOr(Schema.Number),
  size: Schema.Number,
  attempts: Schema.Number,
  retry_at: Schema.NullOr(Schema.Number),
  parked_at: Schema.NullOr(Schema.Number),
  error: Schema.NullOr(Schema.String),
})

/** One outbox row, as operators see it (further columns pass through). */
export const OutboxEntrySchema = Schema.Struct(OutboxColumns.fields, Schema.Record({ key: Schema.String, value: Schema.Unknown }))

/** What `outbox(shard)` answers. */
export const OutboxStatsSchema = Schema.Struct({
  shard: Schema.String,
  pending: Schema.Number,
  parked: Schema.Number,
  rows: Schema.mutable(Schema.Array(OutboxEntrySchema)),
  parkedRows: Schema.mutable(Schema.Array(OutboxEntrySchema)),
})

const WRITE_EVENTS: ReadonlySet<unknown> = new Set(["insert", "update", "delete"])
const isRowObject = (value: unknown) => value !== null && typeof value === "object" && !Array.isArray(value) && Object.getPrototypeOf(value) === Object.prototype

/**
 * A shard's write answer as its shard encoded it (an array of `{ op, table, row }`, rows plain
 * objects: what the Schema decode would give), or `undefined` for anything else, which the Schema
 * then decodes. The Worker reads every write's answer: the generic decode of each row's record was
 * ~5 % of a database write's isolate time.
 */
export const writeResultsAsIs = (value: unknown): ReadonlyArray<typeof WriteResultSchema.Type> | undefined => {
  if (!Array.isArray(value)) return undefined
  for (const result of value) {
    if (result === null || typeof result !== "object" || Object.keys(result).length !== 3) return undefined
    const { op, table, row } = result as Record<string, unknown>
    if (!WRITE_EVENTS.has(op) || typeof table !== "string" || !isRowObject(row)) return undefined
  }
  return value as ReadonlyArray<typeof WriteResultSchema.Type>
}

const GetInput = Schema.Struct({ table: Schema.String, where: Row })
const SelectInput = Schema.Struct({ table: Schema.String, query: SelectQuery })

export const DbShardOps = Operations.group({
  // Every database write crosses this decode on its shard: compiled first (the Schema decides what that leaves).
  write: { payload: WriteBatch, success: Schema.Array(WriteResultSchema), compiled: true, trustedAnswer: writeResultsAsIs },
  get: { payload: GetInput, success: Schema.NullOr(Row) },
  select: { payload: SelectInput, success: PageSchema },
  snapshot: { payload: SelectInput, success: ShardSnapshot },
  outbox: {
    payload: Schema.Struct({ limit: Schema.optionalWith(Schema.Number.pipe(Schema.int(), Schema.between(1, 1000)), { default: () => 100 }) }),
    success: OutboxStatsSchema,
  },
  // A partition the shard streams itself (`streamFrom: "shard"`): what `TableHubOps.state` answers for a hub's.
  streamState: { payload: Schema.Struct({ hub: Schema.String }), success: Schema.Struct({ seq: Schema.Number, connections: Schema.Number }), error: Schema.Never },
})

export const TableHubOps = Operations.group({
  // Only shards call it, with changes built from rows they decoded: a structural check, not the Schema decode again.
  publish: { payload: PublishChanges, success: Schema.Struct({ applied: Schema.Number, duplicates: Schema.Number, seq: Schema.Number }), trusted: checkPublishChanges, trustedAnswer: publishAppliedAsIs },
  state: { payload: Schema.Struct({}), success: Schema.Struct({ seq: Schema.Number, connections: Schema.Number }), error: Schema.Never },
})
