/**
 * Storage layouts that cost fewer rows per write, migrated from the earlier ones without losing
 * what exactly-once delivery rests on: outbox ids never go back, a hub still drops what it applied.
 */
import { env, runInDurableObject } from "cloudflare:test"
import { describe, expect, it } from "vitest"
import { objectName } from "../src/internal/rpc.js"
import { hubIdOf, shardId } from "../src/db/Placement.js"
import { databaseDefinition } from "../src/db/Declaration.js"
import { OUTBOX_ROWID_MIGRATION, planMigrations } from "../src/db/shard/Migrations.js"
import { OUTBOX_TABLE } from "../src/db/Names.js"
import { prunePublished } from "../src/db/shard/Outbox.js"
import { hubMigrations } from "../src/db/hub/TableHub.js"
import { Effect } from "effect"
import * as Sql from "../src/services/Sql.js"
import { subscribe, uid } from "./db-helpers.js"
import { r5Db } from "./db-schema.js"

const bindings = env as unknown as { REALTIME_TABLE_HUBS: DurableObjectNamespace; REALTIME_DB_SHARDS: DurableObjectNamespace }
const definition = () => databaseDefinition("default/r5")!
const shardStub = () => bindings.REALTIME_DB_SHARDS.get(bindings.REALTIME_DB_SHARDS.idFromName(objectName("default/r5", "dbShard", shardId(0))))
const hubStub = (tenantId: string) =>
  bindings.REALTIME_TABLE_HUBS.get(bindings.REALTIME_TABLE_HUBS.idFromName(objectName("default/r5", "tableHub", hubIdOf(definition().tables.get("items")!, { tenantId }))))

/** Run migrations the way `Sql.migrate` does, on raw storage (the object has not booted). */
const runMigrations = (sql: SqlStorage, migrations: ReadonlyArray<{ readonly name: string; readonly statements: ReadonlyArray<string> }>) => {
  sql.exec("CREATE TABLE IF NOT EXISTS _meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
  sql.exec("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)")
  for (const migration of migrations) {
    for (const statement of migration.statements) sql.exec(statement)
    sql.exec("INSERT INTO _migrations (name, applied_at) VALUES (?, 0)", migration.name)
  }
}

describe("storage layout: rows per write", () => {
  it("an outbox created with AUTOINCREMENT whose rows were all pruned keeps its id high water through the rebuild; the highest row is never pruned", async () => {
    const tenant = uid("t")
    // The shard as an earlier version left it: AUTOINCREMENT outbox, 7 changes sent and pruned.
    await runInDurableObject(shardStub(), (_instance, state) => {
      const plan = planMigrations(definition(), [], undefined)
      if ("refused" in plan) throw new Error(plan.refused)
      runMigrations(state.storage.sql, plan.migrations.filter((migration) => migration.name !== OUTBOX_ROWID_MIGRATION))
      expect(String(state.storage.sql.exec(`SELECT sql FROM sqlite_master WHERE name = '${OUTBOX_TABLE}'`).one().sql)).toContain("AUTOINCREMENT")
      for (let i = 0; i < 7; i++) {
        state.storage.sql.exec(`INSERT INTO ${OUTBOX_TABLE} (table_name, event, row_key, request_id, created_at, published_at) VALUES ('items', 'insert', '"x"', 'r', 0, 0)`)
      }
      state.storage.sql.exec(`DELETE FROM ${OUTBOX_TABLE}`)
    })
    const socket = await subscribe(...(await r5Db.realtime.authorize({ table: "items", filters: { tenantId: tenant }, actor: { type: "user", id: "reader" } }).then((grant) => [grant.url, grant.protocols] as const)))
    await r5Db.table("items").insertMany([{ id: `${tenant}-a`, tenantId: tenant, title: "a" }, { id: `${tenant}-b`, tenantId: tenant, title: "b" }])
    expect((await socket.waitChanges(2)).map((change) => change.new.id)).toEqual([`${tenant}-a`, `${tenant}-b`])
    await runInDurableObject(shardStub(), async (_instance, state) => {
      const sql = state.storage.sql
      expect(String(sql.exec(`SELECT sql FROM sqlite_master WHERE name = '${OUTBOX_TABLE}'`).one().sql)).not.toContain("AUTOINCREMENT")
      // The placeholder holds the old high water (7); the new changes come after it.
      expect(sql.exec<{ id: number; table_name: string }>(`SELECT id, table_name FROM ${OUTBOX_TABLE} ORDER BY id`).toArray()).toEqual([
        { id: 7, table_name: "" },
        { id: 8, table_name: "items" },
        { id: 9, table_name: "items" },
      ])
      // Pruning everything published (retention passed) still keeps the highest row, so the next id is 10.
      sql.exec(`UPDATE ${OUTBOX_TABLE} SET published_at = 1`)
      await Effect.runPromise(prunePublished(Sql.makeSql(state.storage)))
    })
    await runInDurableObject(shardStub(), (_instance, state) => {
      expect(state.storage.sql.exec<{ id: number }>(`SELECT id FROM ${OUTBOX_TABLE}`).toArray()).toEqual([{ id: 9 }])
    })
    await r5Db.table("items").insert({ id: `${tenant}-c`, tenantId: tenant, title: "c" })
    const [third] = (await socket.waitChanges(3)).slice(2)
    expect(third).toMatchObject({ seq: 3, new: { id: `${tenant}-c` } })
    socket.close()
  })

  it("a hub buffer of the earlier two-table layout is migrated to one row per change: seq continues, applied changes are still dropped", async () => {
    const tenant = uid("t")
    const change = (outboxId: number) => JSON.stringify({ shard: 0, outboxId, table: "items", event: "insert", old: null, new: { id: `old-${outboxId}`, tenantId: tenant, title: "old" }, requestId: "r", createdAt: 0 })
    await runInDurableObject(hubStub(tenant), (_instance, state) => {
      runMigrations(state.storage.sql, hubMigrations.slice(0, 2))
      for (const [seq, outboxId] of [[1, 100_000], [2, 100_001]]) {
        state.storage.sql.exec("INSERT INTO hub_changes (seq, shard, outbox_id, change) VALUES (?, 0, ?, ?)", seq, outboxId, change(outboxId))
        state.storage.sql.exec("INSERT INTO hub_change_sizes (seq, size) VALUES (?, ?)", seq, change(outboxId).length)
      }
    })
    // Resuming from seq 0 boots the hub (running the migration) and replays the two buffered changes.
    const grant = await r5Db.realtime.authorize({ table: "items", filters: { tenantId: tenant }, actor: { type: "user", id: "reader" } })
    const resumed = await subscribe(`${grant.url}&since=0`, grant.protocols)
    expect(resumed.frames.find((frame) => frame.type === "ready")).toMatchObject({ seq: 2, resumed: true, replayed: 2 })
    await runInDurableObject(hubStub(tenant), (_instance, state) => {
      const sql = state.storage.sql
      expect(sql.exec("SELECT name FROM sqlite_master WHERE name = 'hub_change_sizes'").toArray()).toEqual([])
      expect(sql.exec<{ seq: number; size: number }>("SELECT seq, size FROM hub_changes ORDER BY seq").toArray()).toEqual([
        { seq: 1, size: change(100_000).length },
        { seq: 2, size: change(100_001).length },
      ])
      expect(sql.exec<{ outbox_id: number }>("SELECT outbox_id FROM hub_applied WHERE shard = 0").one().outbox_id).toBe(100_001)
    })
    resumed.close()
  })
})
