/**
 * Seed 003 (realtime database), every example run as the document writes it: same route, same
 * argument shapes, same result shapes. The declarations and the token route are in
 * `db-seed003-app.ts`; the browser side (`fetch` the token route, `new WebSocket(grant.url,
 * grant.protocols)`, `JSON.parse(event.data)`) is done here with the Worker's fetch.
 */
import { runInDurableObject, SELF, env } from "cloudflare:test"
import { describe, expect, it } from "vitest"
import { table, text } from "../src/db/index.js"
// Not \`db(...)\`: a second database named "main" would replace the app's in this isolate.
import { resolveDeclaration } from "../src/db/Declaration.js"
import { objectName } from "../src/internal/rpc.js"
import { database } from "./db-seed003-app.js"
import { openStream, type DbSocket } from "./db-helpers.js"

/** The document's browser code: `fetch("/realtime/posts/token", { method: "POST" }).then((response) => response.json())`. */
const fetchGrant = (session: string) =>
  SELF.fetch("https://api.example.com/realtime/posts/token", { method: "POST", headers: { "x-test-session": session } }).then(
    (response) => response.json() as Promise<{ url: string; protocols: Array<string>; expiresAt: string }>,
  )

/** `new WebSocket(url, protocols)` against the Worker. */
const webSocket = async (url: string, protocols?: ReadonlyArray<string>): Promise<DbSocket> => {
  const { response, socket } = await openStream(url, protocols ?? [])
  if (socket === undefined) throw new Error(`refused: ${response.status} ${await response.text()}`)
  await socket.waitFor((frame) => frame.type === "ready")
  return socket
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/

describe("seed 003: realtime database, every example as written", () => {
  it("authorize from a route returns { url: wss://..., protocols: [<prefix>.realtime.v1, <prefix>.jwt.<token>], expiresAt: ISO }", async () => {
    const before = Date.now()
    const grant = await fetchGrant("user_1@tenant_1")
    expect(Object.keys(grant).sort()).toEqual(["expiresAt", "protocols", "url"])
    expect(grant.url).toMatch(/^wss:\/\/api\.example\.com\/realtime-db\?namespace=default&database=main&table=posts&filters=/)
    expect(grant.protocols).toHaveLength(2)
    expect(grant.protocols[0]).toBe("durable-realtime.realtime.v1")
    expect(grant.protocols[1]).toMatch(/^durable-realtime\.jwt\.[\w-]+\.[\w-]+\.[\w-]+$/)
    expect(grant.expiresAt).toMatch(ISO)
    const ttl = Date.parse(grant.expiresAt) - before
    expect(ttl).toBeGreaterThanOrEqual(299_000)
    expect(ttl).toBeLessThanOrEqual(302_000)
  })

  it("connect with the returned URL and protocols: each message has exactly the document's shape", async () => {
    const grant = await fetchGrant("user_1@tenant_1")
    const socket = await webSocket(grant.url, grant.protocols)
    // The grant binds the actor's metadata as the route wrote it.
    expect(socket.frames.find((frame) => frame.type === "ready")!.actor).toEqual({ kind: "user", id: "user_1", tenantId: "tenant_1" })
    await database.table("posts").insert({ id: "post_1", tenantId: "tenant_1", title: "Hello" }, { requestId: "req_123" })
    const [change] = await socket.waitChanges(1)
    expect(Object.keys(change).sort()).toEqual(["createdAt", "database", "event", "key", "namespace", "new", "old", "requestId", "seq", "shard", "table", "type"])
    expect(change).toEqual({
      type: "database.change",
      seq: 1,
      namespace: "default",
      database: "main",
      table: "posts",
      event: "insert",
      key: { id: "post_1" },
      old: null,
      new: { id: "post_1", tenantId: "tenant_1", title: "Hello" },
      shard: "DB_SHARD_0000",
      requestId: "req_123",
      createdAt: change.createdAt,
    })
    expect(change.createdAt).toMatch(ISO)
    expect(Math.abs(Date.parse(change.createdAt) - Date.now())).toBeLessThan(10_000)
    // "old contains the row before an update or delete. new contains the row after an insert or update."
    await database.table("posts").update({ id: "post_1", tenantId: "tenant_1" }, { title: "Hello again" })
    const [, update] = await socket.waitChanges(2)
    expect(update).toMatchObject({ seq: 2, event: "update", key: { id: "post_1" }, old: { title: "Hello" }, new: { title: "Hello again" } })
    // The grant's events are insert and update: the delete is not delivered.
    await database.table("posts").delete({ id: "post_1", tenantId: "tenant_1" })
    await database.table("posts").insert({ id: "post_2", tenantId: "tenant_1", title: "After" })
    const third = (await socket.waitChanges(3))[2]
    expect(third).toMatchObject({ event: "insert", key: { id: "post_2" } })
    expect(socket.changes().map((c) => c.event)).toEqual(["insert", "update", "insert"])
    socket.close()
  })

  it("a client cannot change the table or filters during the handshake", async () => {
    const grant = await fetchGrant("user_2@tenant_2")
    const other = grant.url.replace(encodeURIComponent('"tenant_2"'), encodeURIComponent('"tenant_1"'))
    expect(other).not.toBe(grant.url)
    const widened = await openStream(other, grant.protocols)
    expect(widened.socket).toBeUndefined()
    expect(widened.response.status).toBe(403)
    const otherTable = await openStream(grant.url.replace("table=posts", "table=announcements"), grant.protocols)
    // announcements is public: the posts grant's filters are not its filters, and it is refused.
    expect(otherTable.socket).toBeUndefined()
    expect(otherTable.response.status).toBe(400)
    // The private table without a grant: the query form is for access: "public" only.
    const noGrant = await openStream("wss://api.example.com/realtime-db?namespace=default&database=main&table=posts&filters=%7B%22tenantId%22%3A%22tenant_2%22%7D")
    expect(noGrant.response.status).toBe(401)
  })

  it("public tables connect with query parameters (namespace optional, filters optional) on the one socket path", async () => {
    const socket = await webSocket("wss://api.example.com/realtime-db" + "?namespace=default" + "&database=main" + "&table=announcements")
    // namespace defaults to "default".
    const withoutNamespace = await webSocket("wss://api.example.com/realtime-db?database=main&table=announcements&filters=%7B%7D")
    await database.table("announcements").insert({ id: "a1", title: "Launch" })
    for (const client of [socket, withoutNamespace]) {
      const [change] = await client.waitChanges(1)
      expect(change).toMatchObject({ type: "database.change", table: "announcements", event: "insert", key: { id: "a1" }, new: { id: "a1", title: "Launch" } })
      expect(change.shard).toMatch(/^DB_SHARD_\d{4}$/)
      client.close()
    }
    // filters uses columns declared in realtime.tables[table].filters: announcements declares none.
    const undeclared = await openStream("wss://api.example.com/realtime-db?database=main&table=announcements&filters=%7B%22title%22%3A%22x%22%7D")
    expect(undeclared.response.status).toBe(400)
  })

  it("`posts: true` takes the default table settings: every event, private, the primary key as key", () => {
    const definition = resolveDeclaration({
      name: "main",
      schema: {
        posts: table({
          id: text().primaryKey(),
          title: text().notNull(),
        }),
      },
      realtime: {
        tables: {
          posts: true,
        },
      },
    })
    expect(definition.tables.get("posts")!.realtime).toEqual({ events: ["insert", "update", "delete"], filters: [], requiredFilters: [], key: "id", access: "private", streamFrom: "hub" })
  })

  it("the migration after the schema migration creates the outbox and its pending index; published rows are marked published_at", async () => {
    await database.table("posts").insert({ id: "post_m", tenantId: "tenant_m", title: "Outbox" })
    const bindings = env as unknown as { REALTIME_DB_SHARDS: DurableObjectNamespace }
    const stub = bindings.REALTIME_DB_SHARDS.get(bindings.REALTIME_DB_SHARDS.idFromName(objectName("default/main", "dbShard", "shard-0")))
    const stored = await runInDurableObject(stub, (_instance, state) => ({
      migrations: state.storage.sql.exec("SELECT name FROM _migrations WHERE name LIKE 'durable_realtime%' ORDER BY rowid").toArray().map((row) => row.name),
      objects: state.storage.sql.exec("SELECT name FROM sqlite_master WHERE name LIKE 'durable_realtime_db_realtime_outbox%' ORDER BY name").toArray().map((row) => row.name),
    }))
    expect(stored.migrations.slice(0, 2)).toEqual(["durable_realtime_001_schema", "durable_realtime_002_realtime"])
    expect(stored.objects).toEqual(expect.arrayContaining(["durable_realtime_db_realtime_outbox", "durable_realtime_db_realtime_outbox_pending"]))
    await expect.poll(async () => (await database.outbox("DB_SHARD_0000")).pending).toBe(0)
    const outbox = await database.outbox("DB_SHARD_0000")
    expect(outbox.shard).toBe("DB_SHARD_0000")
    expect(outbox.rows.find((row) => row.row_key === '"post_m"')?.published_at).toEqual(expect.any(Number))
  })

  it("outbox(n) of a shard that does not exist is a typed NotFound, never a 500", async () => {
    for (const shard of [1, 7, -1, 0.5, "DB_SHARD_0009", "shard-0", "nope"]) {
      const failure = await database.outbox(shard).then(
        () => undefined,
        (error: { _tag: string; message: string }) => error,
      )
      expect(failure?._tag, String(shard)).toBe("NotFound")
      expect(failure?.message).toContain("has no shard")
    }
    expect((await database.outbox(0)).shard).toBe("DB_SHARD_0000")
  })
})
