import { describe, expect, it } from "vitest"
import { MAX_BATCH_BYTES } from "../src/db/Writes.js"
import { post, postsGrant, subscribe, testDb, uid } from "./db-helpers.js"

const failure = (promise: Promise<unknown>) => promise.then(() => ({ _tag: "succeeded" }) as Record<string, unknown>, (error) => error as Record<string, unknown>)

describe("insertMany", () => {
  it("stores every row with its defaults in one transaction and streams them in order with one requestId", async () => {
    const tenant = uid("t")
    const grant = await postsGrant({ tenantId: tenant })
    const socket = await subscribe(grant.url, grant.protocols)
    const posts = testDb.table("posts")
    const rows = await posts.insertMany(
      Array.from({ length: 30 }, (_, i) => post(tenant, `m${i}`)),
      { requestId: "bulk-1" },
    )
    expect(rows.map((row) => row.id)).toEqual(Array.from({ length: 30 }, (_, i) => `m${i}`))
    expect(rows[0]).toMatchObject({ published: false, views: 0, tenantId: tenant })
    const changes = await socket.waitChanges(30)
    expect(changes.map((change) => [change.seq, change.event, change.new.id, change.requestId])).toEqual(rows.map((row, i) => [i + 1, "insert", row.id, "bulk-1"]))
    expect(await posts.get({ id: "m29", tenantId: tenant })).toEqual(rows[29])
    socket.close()
  })

  it("is all or nothing: a constraint or an invalid row refuses the whole batch with its typed error, nothing stored or streamed", async () => {
    const tenant = uid("t")
    const grant = await postsGrant({ tenantId: tenant })
    const socket = await subscribe(grant.url, grant.protocols)
    const posts = testDb.table("posts")
    const duplicate = await failure(posts.insertMany([post(tenant, "a1"), post(tenant, "a2"), post(tenant, "a1", { slug: `other-${tenant}` })]))
    expect(duplicate._tag).toBe("ConstraintViolation")
    const invalid = await failure(posts.insertMany([post(tenant, "b1"), { ...post(tenant, "b2"), views: "many" } as never]))
    expect(invalid._tag).toBe("InvalidInput")
    expect(invalid.message).toContain("views")
    for (const id of ["a1", "a2", "b1"]) expect(await posts.get({ id, tenantId: tenant })).toBeNull()
    // The next committed write is the stream's first change: nothing of the refused batches went out.
    await posts.insert(post(tenant, "ok"))
    const [first] = await socket.waitChanges(1)
    expect(first).toMatchObject({ seq: 1, event: "insert", new: { id: "ok" } })
    socket.close()
  })

  it("refuses an empty batch, more than 100 rows, and rows of different shard keys, as InvalidInput", async () => {
    const tenant = uid("t")
    const posts = testDb.table("posts")
    expect((await failure(posts.insertMany([]))).field).toBe("rows")
    expect((await failure(posts.insertMany(Array.from({ length: 101 }, (_, i) => post(tenant, `n${i}`))))).field).toBe("rows")
    const mixed = await failure(posts.insertMany([post(tenant, "x1"), post(`${tenant}-other`, "x2")]))
    expect(mixed).toMatchObject({ _tag: "InvalidInput", field: "rows.1.tenantId" })
    expect((await failure(posts.insertMany("rows" as never)))._tag).toBe("InvalidInput")
    expect(await posts.get({ id: "x1", tenantId: tenant })).toBeNull()
  })

  it("bounds each row by maxRowBytes and the batch by MAX_BATCH_BYTES (UTF-8 bytes, checked exactly in the shard)", async () => {
    const tenant = uid("t")
    const posts = testDb.table("posts")
    const oneRow = await failure(posts.insertMany([post(tenant, "r1"), post(tenant, "r2", { title: "x".repeat(1_100_000) })]))
    expect(oneRow).toMatchObject({ _tag: "PayloadTooLarge", field: "rows.1" })
    // Under maxRowBytes each, over the batch limit in characters: refused before it leaves the Worker.
    const plain = await failure(posts.insertMany(Array.from({ length: 9 }, (_, i) => post(tenant, `p${i}`, { title: "x".repeat(1_000_000) }))))
    expect(plain).toMatchObject({ _tag: "PayloadTooLarge", field: "rows", limit: MAX_BATCH_BYTES })
    // Two-byte characters: under the limit in characters, over it in bytes — the shard refuses and rolls back.
    const wide = await failure(posts.insertMany(Array.from({ length: 12 }, (_, i) => post(tenant, `w${i}`, { title: "é".repeat(400_000) }))))
    expect(wide).toMatchObject({ _tag: "PayloadTooLarge", field: "writes", limit: MAX_BATCH_BYTES })
    expect(await posts.get({ id: "w0", tenantId: tenant })).toBeNull()
    expect(await posts.get({ id: "r1", tenantId: tenant })).toBeNull()
  })
})
