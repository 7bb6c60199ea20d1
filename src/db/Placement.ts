/**
 * Where rows and changes go.
 *
 * Shard key: a row lives in shard `fnv1a(String(value)) % shards`, where `value` is the row's
 * first required filter (so one tenant's rows share a shard, a snapshot of a tenant reads one
 * shard, and `transaction(tenantId, writes)` can span tables), else its primary key.
 *
 * Hub partition: a change goes to the hub of its table and the values of the table's required
 * filters in its image (`["posts",{"tenantId":"t1"}]`); an update that changes a required filter
 * value goes to both hubs. A table without required filters has one hub.
 *
 * @since 0.1.0
 */
import type { DatabaseDefinition, ResolvedTable } from "./Declaration.js"
import type { DbRow } from "./Rows.js"

export const fnv1a = (text: string): number => {
  let hash = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193) >>> 0
  }
  return hash
}

/** The shard of a shard-key value. */
export const shardOf = (value: unknown, shards: number): number => (shards === 1 ? 0 : fnv1a(String(value)) % shards)

/** The public name of shard `n` in change messages and `outbox(...)`: `DB_SHARD_0000`, `DB_SHARD_0001`, ... */
export const shardName = (n: number) => `DB_SHARD_${String(n).padStart(4, "0")}`
/** Shard `n` from its public name or its index; `undefined` for anything else. */
export const shardIndexOf = (shard: unknown, shards: number): number | undefined => {
  const n = typeof shard === "number" ? shard : typeof shard === "string" ? Number(/^DB_SHARD_(\d{4,})$/.exec(shard)?.[1] ?? Number.NaN) : Number.NaN
  return Number.isInteger(n) && n >= 0 && n < shards ? n : undefined
}

/** The Durable Object id of shard `n`. */
export const shardId = (n: number) => `shard-${n}`
export const shardIndexOfId = (id: string): number => Number(/^shard-(\d+)$/.exec(id)?.[1] ?? Number.NaN)

/** The hub id of a partition: the table and its required-filter values, as JSON. */
export const hubIdOf = (table: ResolvedTable, row: DbRow): string => {
  const required = table.realtime?.requiredFilters ?? []
  // Built by assignment (one object per call, on every write's path); column names are identifiers, never `__proto__`.
  const values: Record<string, unknown> = {}
  for (const column of required) values[column] = row[column] ?? null
  const id = JSON.stringify([table.name, values])
  // Object ids are at most 256 characters: long partition values are named by a digest instead.
  // (Hubs check every change against each subscriber's filters, so even a collision leaks nothing.)
  return id.length <= 200 ? id : `${table.name}#${fnv1a(id).toString(16)}${fnv1a([...id].reverse().join("")).toString(16)}`
}

/** The hub id of a subscription (its filters hold every required filter). */
export const hubIdOfFilters = (table: ResolvedTable, filters: Record<string, unknown>): string => hubIdOf(table, filters)

/** The object streaming a subscription's partition: its binding, actor kind and id. */
export const streamHostOf = (definition: DatabaseDefinition, table: ResolvedTable, filters: Record<string, unknown>) =>
  table.realtime?.streamFrom === "shard"
    ? { binding: definition.bindings.shards, kind: "dbShard" as const, id: shardId(shardOf(filters[table.shardColumn], definition.shards)) }
    : { binding: definition.bindings.hubs, kind: "tableHub" as const, id: hubIdOfFilters(table, filters) }

/** Equality filters against a row image. */
export const matches = (row: DbRow | null, filters: Record<string, unknown>): boolean => {
  if (row === null) return false
  for (const column in filters) if (row[column] !== filters[column]) return false
  return true
}
