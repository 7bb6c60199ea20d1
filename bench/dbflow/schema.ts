/**
 * The databases the `db` workload writes to: one small realtime table, private (subscribers need a
 * grant) and partitioned by tenant (the required filter), declared as the README shows. Its shard
 * and hub classes are the library's own, subclassed only to count SQLite rows written (counted.ts).
 */
import { db, table, text } from "../../src/db/index.js"

export const posts = table({
  id: text().primaryKey(),
  tenantId: text().notNull(),
  title: text().notNull(),
})

export const dbflow = db({
  name: "dbflow",
  schema: { posts },
  realtime: { tables: { posts: { filters: ["tenantId"], requiredFilters: ["tenantId"] } } },
  shards: 1,
  bindings: { shards: "DBFLOW_SHARDS", hubs: "DBFLOW_HUBS" },
})

/**
 * The same table with its streams hosted in the shard (`streamFrom: "shard"`): subscribers connect
 * to the shard object, which delivers each write in its own turn (no hub, no second RPC hop).
 */
export const dbflowInShard = db({
  name: "dbflow_in_shard",
  schema: { posts },
  realtime: { tables: { posts: { filters: ["tenantId"], requiredFilters: ["tenantId"], streamFrom: "shard" } } },
  shards: 1,
  bindings: { shards: "DBFLOW_SHARDS", hubs: "DBFLOW_HUBS" },
})
