import { env, runInDurableObject } from "cloudflare:test"
import { describe, expect, expectTypeOf, it } from "vitest"
import { boolean, db, integer, json, real, table, text, timestamp, type InsertOf, type RowOf } from "../src/db/index.js"
import { resolveDeclaration } from "../src/db/Declaration.js"
import { objectName } from "../src/internal/rpc.js"
import { uid } from "./db-helpers.js"

const posts = table({ id: text().primaryKey(), tenantId: text().notNull().index(), title: text().notNull(), slug: text().unique() })

/** The message of the error a declaration throws. */
const refusal = (declare: () => unknown): string => {
  try {
    declare()
  } catch (error) {
    expect((error as { _tag?: string })._tag).toBe("InvalidInput")
    return (error as Error).message
  }
  throw new Error("the declaration was accepted")
}

describe("table declarations", () => {
  it("infers row and insert types from the columns", () => {
    const t = table({
      id: integer().primaryKey(),
      name: text().notNull(),
      bio: text(),
      active: boolean().notNull().default(true),
      score: real(),
      data: json<{ a: number }>(),
      at: timestamp().notNull(),
    })
    expectTypeOf<RowOf<typeof t>>().toEqualTypeOf<{ id: number; name: string; bio: string | null; active: boolean; score: number | null; data: { a: number } | null; at: number }>()
    expectTypeOf<InsertOf<typeof t>>().toEqualTypeOf<{ id: number; name: string; at: number; bio?: string | null; active?: boolean; score?: number | null; data?: { a: number } | null }>()
    expect(() => integer().default("x" as never)).toThrow(/not a valid integer/)
  })

  it("refuses bad declarations at db(...) time with messages naming the table and column", () => {
    const base = { name: uid("decl"), schema: { posts } }
    expect(refusal(() => db({ ...base, realtime: { tables: { posts: { filters: ["author" as never] } } } }))).toMatch(/filter on undeclared column "author"/)
    expect(refusal(() => db({ ...base, realtime: { tables: { posts: { filters: ["tenantId"], requiredFilters: ["title"] } } } }))).toMatch(/"title" is not in filters \[tenantId\]/)
    expect(refusal(() => db({ name: uid("decl"), schema: { notes: table({ body: text() }) } }))).toMatch(/schema.notes: has no primary key/)
    expect(refusal(() => db({ name: uid("decl"), schema: { two: table({ a: text().primaryKey(), b: text().primaryKey() }) } }))).toMatch(/2 primary keys/)
    expect(refusal(() => db({ ...base, realtime: { tables: { comments: true } as never } }))).toMatch(/no table "comments"/)
    expect(refusal(() => db({ ...base, realtime: { tables: { posts: { key: "title" } } } }))).toMatch(/must identify a row/)
    expect(refusal(() => db({ ...base, realtime: { tables: { posts: { events: ["truncate" as never] } } } }))).toMatch(/events/)
    expect(refusal(() => db({ ...base, realtime: { tables: { posts: { filters: ["slug"], requiredFilters: ["slug"] } } } }))).toMatch(/may be null/)
    expect(refusal(() => db({ name: uid("decl"), schema: { j: table({ id: text().primaryKey(), doc: json() }) }, realtime: { tables: { j: { filters: ["doc"] } } } }))).toMatch(/json column/)
    expect(refusal(() => db({ ...base, shards: 0 }))).toMatch(/shards/)
    expect(refusal(() => db({ ...base, name: "bad name!" }))).toMatch(/name/)
    expect(refusal(() => db({ name: uid("decl"), schema: { "drop table": posts } as never }))).toMatch(/table names/)
    expect(refusal(() => db({ name: uid("decl"), schema: { t: table({ id: text().primaryKey(), "x-y": text() }) } as never }))).toMatch(/column names/)
    // A stream hosted in a shard must get every change from that shard: a required filter places the rows, or there is one shard.
    expect(refusal(() => db({ ...base, shards: 2, realtime: { tables: { posts: { streamFrom: "shard" } } } }))).toMatch(/streamFrom: "shard" needs a required filter/)
    expect(refusal(() => db({ ...base, realtime: { tables: { posts: { streamFrom: "hubs" as never } } } }))).toMatch(/streamFrom: must be "hub" or "shard"/)
    expect(resolveDeclaration({ name: "one", schema: { posts }, realtime: { tables: { posts: { streamFrom: "shard" } } } }).tables.get("posts")!.realtime!.streamFrom).toBe("shard")
    expect(resolveDeclaration({ name: "two", shards: 2, schema: { posts }, realtime: { tables: { posts: { filters: ["tenantId"], requiredFilters: ["tenantId"], streamFrom: "shard" } } } }).tables.get("posts")!.realtime!.streamFrom).toBe("shard")
  })

  it("`posts: true` takes the defaults: every event, no filters, the primary key as key, private", () => {
    const definition = resolveDeclaration({ name: "defaults", schema: { posts }, realtime: { tables: { posts: true } } })
    expect(definition.tables.get("posts")!.realtime).toEqual({ events: ["insert", "update", "delete"], filters: [], requiredFilters: [], key: "id", access: "private", streamFrom: "hub" })
    expect(definition.tables.get("posts")!.shardColumn).toBe("id")
    const partitioned = resolveDeclaration({ name: "p", schema: { posts }, realtime: { tables: { posts: { filters: ["tenantId"], requiredFilters: ["tenantId"], access: "public" } } } })
    expect(partitioned.tables.get("posts")!.shardColumn).toBe("tenantId")
    expect(partitioned.instance).toBe("default/p")
  })
})

describe("migrations", () => {
  const bindings = env as unknown as { REALTIME_DB_SHARDS: DurableObjectNamespace }
  const shard = (name: string) => bindings.REALTIME_DB_SHARDS.get(bindings.REALTIME_DB_SHARDS.idFromName(objectName(`default/${name}`, "dbShard", "shard-0")))
  const migrationsOf = (name: string) =>
    runInDurableObject(shard(name), (_instance, state) => ({
      applied: state.storage.sql.exec<{ name: string }>("SELECT name FROM _migrations ORDER BY name").toArray().map((row) => row.name),
      objects: state.storage.sql.exec<{ name: string }>("SELECT name FROM sqlite_master WHERE name LIKE 'durable_realtime%' OR name LIKE 'items%' ORDER BY name").toArray().map((row) => row.name),
    }))
  const restart = (name: string) =>
    runInDurableObject(shard(name), (_instance, state) => {
      state.abort("test: restart with a new declaration")
    }).catch(() => undefined)

  it("run on first use (schema, then realtime outbox + pending index); a schema change adds the next migration; a destructive one is refused", async () => {
    const name = uid("mig")
    const v1 = db({ name, schema: { items: table({ id: text().primaryKey(), label: text().notNull() }) }, realtime: { tables: { items: true } } })
    await v1.table("items").insert({ id: "i1", label: "one" })
    const first = await migrationsOf(name)
    expect(first.applied.filter((n) => n.startsWith("durable_realtime"))).toEqual(["durable_realtime_001_schema", "durable_realtime_002_outbox_rowid", "durable_realtime_002_realtime", "durable_realtime_002_realtime_delivery", expect.stringMatching(/^durable_realtime_002_tenant_keys_[0-9a-f]+$/)])
    expect(first.objects).toEqual(["durable_realtime_db_realtime_outbox", "durable_realtime_db_realtime_outbox_pending", "items"])

    // A later deploy adds a defaulted column with an index: the next numbered migration.
    await restart(name)
    const v2 = db({ name, schema: { items: table({ id: text().primaryKey(), label: text().notNull(), rank: integer().notNull().default(0).index() }) }, realtime: { tables: { items: true } } })
    const row = await v2.table("items").insert({ id: "i2", label: "two", rank: 3 })
    expect(row).toEqual({ id: "i2", label: "two", rank: 3 })
    expect(await v2.table("items").get({ id: "i1" })).toEqual({ id: "i1", label: "one", rank: 0 })
    const second = await migrationsOf(name)
    expect(second.applied.filter((n) => n.startsWith("durable_realtime"))).toEqual(["durable_realtime_001_schema", "durable_realtime_002_outbox_rowid", "durable_realtime_002_realtime", "durable_realtime_002_realtime_delivery", expect.stringMatching(/^durable_realtime_002_tenant_keys_[0-9a-f]+$/), "durable_realtime_003_schema"])
    expect(second.objects).toContain("items__rank__idx")

    // Booting again with the same declaration applies nothing new.
    await restart(name)
    await v2.table("items").get({ id: "i1" })
    expect((await migrationsOf(name)).applied.filter((n) => n.startsWith("durable_realtime"))).toHaveLength(6)

    // Dropping a column is refused, and nothing is changed.
    await restart(name)
    const v3 = db({ name, schema: { items: table({ id: text().primaryKey(), rank: integer().notNull().default(0).index() }) }, realtime: { tables: { items: true } } })
    const error = await v3.table("items").get({ id: "i1" }).catch((e) => e)
    expect(error._tag).toBe("StorageFailure")
    expect(error.message).toMatch(/column items.label was removed/)
    // Restore the declaration the shard knows, so its alarms keep working.
    db({ name, schema: { items: table({ id: text().primaryKey(), label: text().notNull(), rank: integer().notNull().default(0).index() }) }, realtime: { tables: { items: true } } })
    await restart(name)
    expect((await migrationsOf(name)).applied.filter((n) => n.startsWith("durable_realtime"))).toHaveLength(6)
  })
  it("S4-db: a table that gains required filters is rebuilt with keys unique per tenant, its rows kept", async () => {
    const name = uid("keys")
    const columns = () => ({ id: text().primaryKey(), org: text().notNull().index(), label: text().notNull() })
    const v1 = db({ name, schema: { items: table(columns()) }, realtime: { tables: { items: { filters: ["org"] } } } })
    await v1.table("items").insert({ id: "i1", org: "o1", label: "one" })
    await v1.table("items").insert({ id: "i2", org: "o2", label: "two" })
    expect((await v1.table("items").insert({ id: "i1", org: "o2", label: "clash" }).catch((e) => e))._tag).toBe("ConstraintViolation")
    await restart(name)
    const v2 = db({ name, schema: { items: table(columns()) }, realtime: { tables: { items: { filters: ["org"], requiredFilters: ["org"] } } } })
    expect(await v2.table("items").get({ id: "i1", org: "o1" })).toEqual({ id: "i1", org: "o1", label: "one" })
    expect(await v2.table("items").insert({ id: "i1", org: "o2", label: "o2's own i1" })).toEqual({ id: "i1", org: "o2", label: "o2's own i1" })
    expect((await v2.table("items").get({ id: "i1", org: "o1" }))?.label).toBe("one")
    expect((await v2.table("items").get({ id: "i2", org: "o2" }))?.label).toBe("two")
    const after = await migrationsOf(name)
    expect(after.applied.filter((n) => n.startsWith("durable_realtime_002_tenant_keys_"))).toHaveLength(2)
    expect(after.objects).toContain("items__org__idx")
    expect(after.objects).not.toContain("items__tenant_keys")
  })
})
