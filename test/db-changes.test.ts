import { describe, expect, it } from "vitest"
import { shardOf } from "../src/db/Placement.js"
import { openStream, post, postsGrant, streamUrl, subscribe, testDb, uid } from "./db-helpers.js"

describe("database change streams", () => {
  it("insert, update and delete reach a subscriber with old/new images and the custom key column", async () => {
    const tenant = uid("t")
    const grant = await postsGrant({ tenantId: tenant })
    expect(grant.protocols[0]).toBe("durable-realtime.realtime.v1")
    expect(grant.protocols[1].startsWith("durable-realtime.jwt.")).toBe(true)
    expect(grant.url).toContain("/realtime-db?namespace=default&database=dbtest&table=posts")
    const socket = await subscribe(grant.url, grant.protocols)
    expect(socket.response.headers.get("Sec-WebSocket-Protocol")).toBe("durable-realtime.realtime.v1")
    const ready = socket.frames.find((frame) => frame.type === "ready")!
    expect(ready).toMatchObject({ table: "posts", database: "dbtest", namespace: "default", filters: { tenantId: tenant }, seq: 0 })

    const inserted = await testDb.table("posts").insert(post(tenant, "p1", { tags: ["a"], score: 1.5, publishedAt: 1_700_000_000_000 }), { requestId: "req-1" })
    expect(inserted).toMatchObject({ id: "p1", published: false, views: 0, tags: ["a"], score: 1.5 })
    const updated = await testDb.table("posts").update({ id: "p1", tenantId: tenant }, { title: "Edited", published: true })
    expect(updated).toMatchObject({ title: "Edited", published: true })
    const deleted = await testDb.table("posts").delete({ id: "p1", tenantId: tenant })
    expect(deleted.title).toBe("Edited")

    const [insert, update, remove] = await socket.waitChanges(3)
    expect(insert).toMatchObject({ type: "database.change", seq: 1, namespace: "default", database: "dbtest", table: "posts", event: "insert", key: { slug: `slug-p1-${tenant}` }, old: null, requestId: "req-1" })
    expect(insert.new).toEqual(inserted)
    expect(insert.shard).toMatch(/^DB_SHARD_\d{4}$/)
    expect(new Date(insert.createdAt).toISOString()).toBe(insert.createdAt)
    expect(update).toMatchObject({ seq: 2, event: "update", key: { slug: `slug-p1-${tenant}` } })
    expect(update.old).toEqual(inserted)
    expect(update.new).toEqual(updated)
    expect(remove).toMatchObject({ seq: 3, event: "delete", key: { slug: `slug-p1-${tenant}` }, new: null })
    expect(remove.old).toEqual(updated)
    // Committed changes are marked published in the shard's outbox.
    const outbox = (await testDb.outbox(insert.shard)) as { pending: number; rows: Array<{ published_at: number | null }> }
    expect(outbox.pending).toBe(0)
    socket.close()
  })

  it("filters: a subscriber sees only matching rows; a row leaving its filter arrives as a delete of the old image, entering as an insert", async () => {
    const tenant = uid("t")
    const published = await subscribe((await postsGrant({ tenantId: tenant, published: true })).url, (await postsGrant({ tenantId: tenant, published: true })).protocols)
    const all = await subscribe((await postsGrant({ tenantId: tenant })).url, (await postsGrant({ tenantId: tenant })).protocols)
    const posts = testDb.table("posts")
    await posts.insert(post(tenant, "draft"))
    await posts.update({ id: "draft", tenantId: tenant }, { published: true, title: "Live" })
    await posts.update({ id: "draft", tenantId: tenant }, { published: false, title: "Secret draft" })
    await posts.delete({ id: "draft", tenantId: tenant })
    const everything = await all.waitChanges(4)
    expect(everything.map((c) => c.event)).toEqual(["insert", "update", "update", "delete"])
    const seen = await published.waitChanges(2)
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(published.changes()).toHaveLength(2)
    expect(seen[0]).toMatchObject({ event: "insert", scope: "entered", old: null, seq: 2 })
    expect(seen[0].new.title).toBe("Live")
    expect(seen[1]).toMatchObject({ event: "delete", scope: "left", new: null, seq: 3, key: { slug: `slug-draft-${tenant}` } })
    expect(seen[1].old.title).toBe("Live")
    // The new image of a row that left the filter is never sent.
    expect(JSON.stringify(published.frames)).not.toContain("Secret draft")
    published.close()
    all.close()
  })

  it("two tenants' hubs are independent: separate seq streams, no cross-delivery", async () => {
    const [a, b] = [uid("ta"), uid("tb")]
    const ga = await postsGrant({ tenantId: a })
    const gb = await postsGrant({ tenantId: b })
    const sa = await subscribe(ga.url, ga.protocols)
    const sb = await subscribe(gb.url, gb.protocols)
    for (let i = 0; i < 3; i++) await testDb.table("posts").insert(post(a, `a${i}`))
    await testDb.table("posts").insert(post(b, "b0"))
    expect((await sa.waitChanges(3)).map((c) => c.seq)).toEqual([1, 2, 3])
    expect((await sb.waitChanges(1)).map((c) => [c.seq, c.new.tenantId])).toEqual([[1, b]])
    expect(sa.changes().every((c) => c.new.tenantId === a)).toBe(true)
    sa.close()
    sb.close()
  })

  it("events restriction: a grant for inserts only never delivers updates or deletes", async () => {
    const tenant = uid("t")
    const grant = await postsGrant({ tenantId: tenant }, { events: ["insert"] })
    const socket = await subscribe(grant.url, grant.protocols)
    const all = await subscribe((await postsGrant({ tenantId: tenant })).url, (await postsGrant({ tenantId: tenant })).protocols)
    await testDb.table("posts").insert(post(tenant, "e1"))
    await testDb.table("posts").update({ id: "e1", tenantId: tenant }, { title: "x" })
    await testDb.table("posts").delete({ id: "e1", tenantId: tenant })
    await testDb.table("posts").insert(post(tenant, "e2"))
    await all.waitChanges(4)
    const seen = await socket.waitChanges(2)
    expect(seen.map((c) => [c.event, c.seq])).toEqual([["insert", 1], ["insert", 4]])
    // Narrowing events at connect is allowed for a public table too.
    const narrowed = await subscribe(streamUrl("notes", { channel: "n-ev" }, { events: "delete" }))
    const note = await testDb.table("notes").insert({ id: 9_001, channel: "n-ev", body: "x" })
    await testDb.table("notes").delete({ id: note.id })
    expect((await narrowed.waitChanges(1))[0]).toMatchObject({ event: "delete", key: { id: 9_001 } })
    socket.close()
    all.close()
    narrowed.close()
  })

  it("public tables subscribe without a grant, with or without filters; writes to non-streamed tables make no outbox rows", async () => {
    const channel = uid("c")
    const filtered = await subscribe(streamUrl("notes", { channel }))
    const everything = await subscribe(streamUrl("notes"))
    await testDb.table("notes").insert({ id: 1_000 + Math.floor(Math.random() * 1e6), channel: "elsewhere", body: "no" })
    const mine = await testDb.table("notes").insert({ id: 2_000_000 + Math.floor(Math.random() * 1e6), channel, body: "yes" })
    const [change] = await filtered.waitChanges(1)
    expect(change).toMatchObject({ event: "insert", key: { id: mine.id }, table: "notes" })
    await everything.waitChanges(2)
    expect(filtered.changes()).toHaveLength(1)
    const before = (await Promise.all([0, 1, 2].map((n) => testDb.outbox(n)))) as Array<{ rows: Array<{ id: number }> }>
    await testDb.table("audit").insert({ id: uid("audit"), what: "x" })
    const after = (await Promise.all([0, 1, 2].map((n) => testDb.outbox(n)))) as Array<{ rows: Array<{ id: number }> }>
    expect(after.map((o) => o.rows[0]?.id)).toEqual(before.map((o) => o.rows[0]?.id))
    filtered.close()
    everything.close()
  })

  it("a write that fails a constraint produces no change and a typed ConstraintViolation; bad rows are InvalidInput; missing rows NotFound", async () => {
    const tenant = uid("t")
    const grant = await postsGrant({ tenantId: tenant })
    const socket = await subscribe(grant.url, grant.protocols)
    const posts = testDb.table("posts")
    await posts.insert(post(tenant, "c1", { slug: "same" + tenant }))
    const duplicateSlug = await posts.insert(post(tenant, "c2", { slug: "same" + tenant })).catch((error) => error)
    expect(duplicateSlug._tag).toBe("ConstraintViolation")
    expect(duplicateSlug.table).toBe("posts")
    const duplicateKey = await posts.insert(post(tenant, "c1", { slug: "other" + tenant })).catch((error) => error)
    expect(duplicateKey._tag).toBe("ConstraintViolation")
    // A transaction whose second write fails stores neither.
    const tx = await testDb
      .transaction(tenant, [
        { op: "insert", table: "posts", row: post(tenant, "c3") },
        { op: "insert", table: "posts", row: post(tenant, "c4", { slug: "same" + tenant }) },
      ])
      .catch((error) => error)
    expect(tx._tag).toBe("ConstraintViolation")
    expect(await posts.get({ id: "c3", tenantId: tenant })).toBeNull()
    const bad = await posts.insert({ ...post(tenant, "c5"), views: "many" } as never).catch((error) => error)
    expect(bad._tag).toBe("InvalidInput")
    expect(bad.message).toContain("views")
    const extra = await posts.insert({ ...post(tenant, "c6"), colour: "red" } as never).catch((error) => error)
    expect(extra._tag).toBe("InvalidInput")
    const missing = await posts.update({ id: "nope", tenantId: tenant }, { title: "x" }).catch((error) => error)
    expect(missing._tag).toBe("NotFound")
    const moved = await posts.update({ id: "c1", tenantId: tenant }, { tenantId: "other" }).catch((error) => error)
    expect(moved._tag).toBe("InvalidInput")
    const unplaced = await posts.get({ id: "c1" }).catch((error) => error)
    expect(unplaced._tag).toBe("InvalidInput")
    // Only the one committed insert was streamed.
    await posts.update({ id: "c1", tenantId: tenant }, { title: "after" })
    const changes = await socket.waitChanges(2)
    expect(changes.map((c) => [c.seq, c.event])).toEqual([[1, "insert"], [2, "update"]])
    socket.close()
  })

  it("transaction commits several writes on one shard key together, streamed in order with one requestId; select pages with a cursor", async () => {
    const tenant = uid("t")
    const grant = await postsGrant({ tenantId: tenant })
    const socket = await subscribe(grant.url, grant.protocols)
    const results = await testDb.transaction(
      tenant,
      [
        { op: "insert", table: "posts", row: post(tenant, "x1") },
        { op: "insert", table: "posts", row: post(tenant, "x2") },
        { op: "update", table: "posts", where: { id: "x1", tenantId: tenant }, patch: { views: 5 } },
      ],
      { requestId: "tx-1" },
    )
    expect(results.map((r) => r.op)).toEqual(["insert", "insert", "update"])
    const changes = await socket.waitChanges(3)
    expect(changes.map((c) => [c.seq, c.event, c.requestId])).toEqual([[1, "insert", "tx-1"], [2, "insert", "tx-1"], [3, "update", "tx-1"]])
    // A transaction's shard key must be the shard key of every row it writes.
    let otherKey = "k0"
    for (let i = 1; shardOf(otherKey, 3) === shardOf(tenant, 3); i++) otherKey = `k${i}`
    const wrongShard = await testDb.transaction(otherKey, [{ op: "insert", table: "posts", row: post(tenant, "x3") }]).catch((error) => error)
    expect(wrongShard._tag).toBe("InvalidInput")
    expect(wrongShard.message).toContain("one shard key")

    for (let i = 3; i < 8; i++) await testDb.table("posts").insert(post(tenant, `x${i}`))
    const first = await testDb.table("posts").select({ where: { tenantId: tenant }, limit: 4 })
    expect(first.rows.map((r) => r.id)).toEqual(["x1", "x2", "x3", "x4"])
    const second = await testDb.table("posts").select({ where: { tenantId: tenant }, limit: 4, cursor: first.nextCursor })
    expect(second.rows.map((r) => r.id)).toEqual(["x5", "x6", "x7"])
    expect(second.nextCursor).toBeNull()
    const byViews = await testDb.table("posts").select({ where: { tenantId: tenant }, order: { column: "views", direction: "desc" }, limit: 1 })
    expect(byViews.rows[0].id).toBe("x1")
    // Notes are placed by primary key over three shards: a select merges them in order.
    const channel = uid("m")
    const ids = [11, 5, 42, 7, 23, 19].map((n) => n + Math.floor(Math.random() * 1e6) * 100)
    for (const id of ids) await testDb.table("notes").insert({ id, channel, body: String(id) })
    const merged = await testDb.table("notes").select({ where: { channel }, limit: 4 })
    const rest = await testDb.table("notes").select({ where: { channel }, limit: 4, cursor: merged.nextCursor })
    expect([...merged.rows, ...rest.rows].map((r) => r.id)).toEqual([...ids].sort((x, y) => x - y))
    socket.close()
  })

  it("an update that changes a required filter reaches both partitions: a leave on the old hub, an entry on the new one", async () => {
    const org = uid("org")
    const boardA = await subscribe(streamUrl("tasks", { orgId: org, boardId: "A" }))
    const boardB = await subscribe(streamUrl("tasks", { orgId: org, boardId: "B" }))
    const missing = await openStream(streamUrl("tasks", { orgId: org }))
    expect(missing.response.status).toBe(400)
    await testDb.table("tasks").insert({ id: "k1", orgId: org, boardId: "A", title: "Write docs" })
    await testDb.table("tasks").update({ id: "k1", orgId: org }, { boardId: "B", title: "Moved" })
    const [created, left] = await boardA.waitChanges(2)
    expect(created).toMatchObject({ seq: 1, event: "insert" })
    expect(left).toMatchObject({ seq: 2, event: "delete", scope: "left", new: null, key: { id: "k1" } })
    expect(left.old.boardId).toBe("A")
    const [entered] = await boardB.waitChanges(1)
    expect(entered).toMatchObject({ seq: 1, event: "insert", scope: "entered", old: null })
    expect(entered.new).toEqual({ id: "k1", orgId: org, boardId: "B", title: "Moved" })
    boardA.close()
    boardB.close()
  })

  it("bad queries and locators are typed InvalidInput errors that change nothing", async () => {
    const tenant = uid("t")
    const posts = testDb.table("posts")
    await posts.insert(post(tenant, "q1"))
    const tag = (promise: Promise<unknown>) => promise.then(() => "resolved", (error) => (error as { _tag: string })._tag)
    expect(await tag(posts.select({ where: { tenantId: tenant }, order: { column: "score" } }))).toBe("InvalidInput")
    expect(await tag(posts.select({ where: { tenantId: tenant }, cursor: "not-a-cursor" }))).toBe("InvalidInput")
    expect(await tag(posts.select({ where: { tenantId: tenant }, limit: 0 }))).toBe("InvalidInput")
    expect(await tag(posts.select({ where: { tags: ["a"] } as never }))).toBe("InvalidInput")
    expect(await tag(posts.select({ where: { nope: 1 } as never }))).toBe("InvalidInput")
    expect(await tag(testDb.table("nope" as never).get({ id: "x" } as never))).toBe("InvalidInput")
    expect(await tag(posts.get({ id: "q1", tenantId: tenant, title: "x" }))).toBe("InvalidInput")
    expect(await tag(posts.update({ id: "q1", tenantId: tenant }, {}))).toBe("InvalidInput")
    expect(await tag(posts.update({ id: "q1", tenantId: tenant }, { views: -1.5 }))).toBe("InvalidInput")
    expect(await tag(testDb.transaction(tenant, []))).toBe("InvalidInput")
    expect(await posts.get({ id: "q1", tenantId: tenant })).toMatchObject({ id: "q1", views: 0, title: "Title q1" })
  })
})
