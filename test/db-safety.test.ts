/**
 * Hostile rows and handshakes against the realtime database (issue 13, items 5 and 8; clauses R5c,
 * S1-db, S3-db, S4-db of docs/RELIABILITY.md): rows over
 * `maxRowBytes`, prototype keys, 100,000-deep bodies, two grant tokens. Each refusal is a typed
 * error with its HTTP status, and nothing is stored or streamed.
 */
import { SELF } from "cloudflare:test"
import { describe, expect, it } from "vitest"
import { shardOf } from "../src/db/Placement.js"
import { openStream, post, postsGrant, sleep, subscribe, testDb, uid } from "./db-helpers.js"

const postJson = (path: string, body: string, method = "POST") =>
  SELF.fetch(`http://example.com${path}`, { method, headers: { "content-type": "application/json" }, body })

const errorOf = async (response: Response) => ((await response.json()) as { error: { _tag: string; field?: string; message: string; size?: number; limit?: number } }).error

const rejectionOf = async (promise: Promise<unknown>) => {
  try {
    await promise
  } catch (error) {
    return error as { _tag: string; field?: string; message: string }
  }
  throw new Error("expected a rejection")
}

const pendingOf = async () => {
  let total = 0
  for (let shard = 0; shard < 3; shard++) total += ((await testDb.outbox(shard)) as { rows: ReadonlyArray<unknown> }).rows.length
  return total
}

describe("R5c row limits: maxRowBytes bounds every row at write time", () => {
  it("a row over maxRowBytes (default 1 MiB) is refused with 413 PayloadTooLarge and nothing is stored or streamed", async () => {
    const tenant = uid("big")
    // The example app's route, as a client would send it: 3 MB were accepted before.
    const tooBig = await postJson("/db/posts", JSON.stringify({ id: "huge", tenantId: tenant, title: "x".repeat(3_000_000) }))
    expect(tooBig.status).toBe(413)
    const error = await errorOf(tooBig)
    expect(error).toMatchObject({ _tag: "PayloadTooLarge", limit: 1_048_576 })
    expect((await SELF.fetch(`http://example.com/db/posts?tenantId=${tenant}`)).status).toBe(200)
    expect(((await (await SELF.fetch(`http://example.com/db/posts?tenantId=${tenant}`)).json()) as { rows: Array<unknown> }).rows).toEqual([])

    // Just over the limit in bytes but not in characters (3-byte characters): the shard's exact check.
    const before = await pendingOf()
    const euros = "€".repeat(360_000)
    const refused = await rejectionOf(testDb.table("posts").insert(post(tenant, "euros", { title: euros })))
    expect(refused).toMatchObject({ _tag: "PayloadTooLarge" })
    expect(await testDb.table("posts").get({ id: "euros", tenantId: tenant })).toBeNull()
    // An update that grows a row past the limit changes nothing.
    await testDb.table("posts").insert(post(tenant, "grows", { title: "small" }))
    const grown = await rejectionOf(testDb.table("posts").update({ id: "grows", tenantId: tenant }, { title: euros }))
    expect(grown).toMatchObject({ _tag: "PayloadTooLarge" })
    expect((await testDb.table("posts").get({ id: "grows", tenantId: tenant }))?.title).toBe("small")
    // Only the small insert reached an outbox.
    expect((await pendingOf()) - before).toBe(1)
    // A row just under the limit is stored.
    const fits = await testDb.table("posts").insert(post(tenant, "fits", { title: "y".repeat(1_000_000) }))
    expect(fits.title).toHaveLength(1_000_000)
  })
})

describe("S1-db rows: prototype keys and deep nesting are refused with InvalidInput, never a 500", () => {
  it("__proto__, constructor and prototype keys in a row, a JSON column or a patch: 400, nothing stored", async () => {
    const tenant = uid("proto")
    for (const key of ["__proto__", "constructor", "prototype"]) {
      const top = await postJson("/db/posts", `{"id":"p-${key}","tenantId":"${tenant}","title":"t","${key}":{"evil":true}}`)
      expect(top.status, key).toBe(400)
      expect(await errorOf(top)).toMatchObject({ _tag: "InvalidInput", field: `row.${key}` })
    }
    const nested = await rejectionOf(testDb.table("posts").insert(post(tenant, "nested", { tags: JSON.parse('{"a":[{"__proto__":{"admin":true}}]}') })))
    expect(nested).toMatchObject({ _tag: "InvalidInput", field: "row.tags.a.0.__proto__" })
    await testDb.table("posts").insert(post(tenant, "kept"))
    const patched = await postJson(`/db/posts/kept?tenantId=${tenant}`, '{"title":"changed","constructor":{"prototype":{"x":1}}}', "PATCH")
    expect(patched.status).toBe(400)
    expect((await testDb.table("posts").get({ id: "kept", tenantId: tenant }))?.title).toBe("Title kept")
    const transaction = await rejectionOf(testDb.transaction(tenant, [{ op: "insert", table: "posts", row: post(tenant, "tx", { tags: JSON.parse('{"prototype":1}') }) }]))
    expect(transaction).toMatchObject({ _tag: "InvalidInput", field: "writes.0.row.tags.prototype" })
    const rows = (await testDb.table("posts").select({ where: { tenantId: tenant } })).rows.map((row) => row.id)
    expect(rows).toEqual(["kept"])
    // The prototype of plain objects is untouched.
    expect(({} as Record<string, unknown>).admin).toBeUndefined()
  })

  it("a 100,000-deep JSON value in a row body: 400 InvalidInput, not 500", async () => {
    const tenant = uid("deep")
    const depth = 100_000
    const deep = `${"[".repeat(depth)}${"]".repeat(depth)}`
    const response = await postJson("/db/posts", `{"id":"deep","tenantId":"${tenant}","title":"t","tags":${deep}}`)
    expect(response.status).toBe(400)
    expect(await errorOf(response)).toMatchObject({ _tag: "InvalidInput" })
    const objects = `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`
    const viaApi = await rejectionOf(testDb.table("posts").insert(post(tenant, "deep2", { tags: JSON.parse(objects) })))
    expect(viaApi._tag).toBe("InvalidInput")
    expect(viaApi.message).toContain("nested deeper than 64 levels")
    // Nesting within the limit is stored as plain data.
    const fine = JSON.parse(`${"[".repeat(60)}"ok"${"]".repeat(60)}`)
    expect((await testDb.table("posts").insert(post(tenant, "ok", { tags: fine }))).tags).toEqual(fine)
    expect(await testDb.table("posts").get({ id: "deep", tenantId: tenant })).toBeNull()
  })
})

describe("S3-db change streams: two grant tokens in one handshake are refused", () => {
  it("/realtime-db with two token subprotocols answers 401 before accept, even when both are valid", async () => {
    const tenant = uid("two")
    const mine = await postsGrant({ tenantId: tenant })
    const other = await postsGrant({ tenantId: uid("other") })
    const { response, socket } = await openStream(mine.url, [...mine.protocols, other.protocols[1]])
    expect(socket).toBeUndefined()
    expect(response.status).toBe(401)
    expect((await errorOf(response)).message).toContain("more than one grant token")
    // One token still works.
    const single = await openStream(mine.url, mine.protocols)
    expect(single.socket).toBeDefined()
    single.socket!.close()
  })
})

describe("S4-db tenant-scoped keys: another tenant on the same shard learns nothing from a primary key or unique value", () => {
  /** Two tenants whose rows live on the same shard. */
  const sameShardTenants = () => {
    const first = uid("ta")
    for (let i = 0; ; i++) {
      const second = uid(`tb${i}`)
      if (shardOf(second, testDb.definition.shards) === shardOf(first, testDb.definition.shards)) return [first, second] as const
    }
  }

  it("the same id and the same unique slug in two tenants of one shard are both stored (no 409); a duplicate within one tenant is a 409", async () => {
    const [a, b] = sameShardTenants()
    const posts = testDb.table("posts")
    const streamA = await subscribe((await postsGrant({ tenantId: a })).url, (await postsGrant({ tenantId: a })).protocols)
    await posts.insert(post(a, "same", { slug: "shared-slug", title: "A's" }))
    // Before: 409 ConstraintViolation here told tenant b that "same" (and the slug) existed.
    const mine = await posts.insert(post(b, "same", { slug: "shared-slug", title: "B's" }))
    expect(mine).toMatchObject({ id: "same", tenantId: b, title: "B's" })
    const duplicate = await rejectionOf(posts.insert(post(a, "same", { slug: "other-slug" })))
    expect(duplicate._tag).toBe("ConstraintViolation")
    const duplicateSlug = await rejectionOf(posts.insert(post(a, "another", { slug: "shared-slug" })))
    expect(duplicateSlug._tag).toBe("ConstraintViolation")
    // Reads, updates and deletes of one tenant's row never touch the other's.
    expect((await posts.get({ id: "same", tenantId: a }))?.title).toBe("A's")
    expect((await posts.update({ id: "same", tenantId: b }, { title: "B2" })).title).toBe("B2")
    expect((await posts.get({ id: "same", tenantId: a }))?.title).toBe("A's")
    await posts.delete({ id: "same", tenantId: b })
    expect(await posts.get({ id: "same", tenantId: b })).toBeNull()
    expect((await posts.get({ id: "same", tenantId: a }))?.title).toBe("A's")
    // Tenant a's stream saw only its own insert.
    await streamA.waitChanges(1)
    await sleep(100)
    expect(streamA.changes().map((c) => [c.event, c.new.tenantId])).toEqual([["insert", a]])
    streamA.close()
  })

  it("a select across tenants pages through rows sharing a primary key without skipping or repeating one", async () => {
    const [a, b] = sameShardTenants()
    const posts = testDb.table("posts")
    for (const tenant of [a, b]) for (const id of ["k1", "k2"]) await posts.insert(post(tenant, `${id}-${a}`, { slug: `${id}-${tenant}` }))
    const seen: Array<string> = []
    let cursor: string | null = null
    do {
      const page: { rows: ReadonlyArray<{ id: string; tenantId: string }>; nextCursor: string | null } = await posts.select({ where: { authorId: "a1" }, limit: 1, cursor, order: { column: "id" } })
      for (const row of page.rows) if (row.id.endsWith(a)) seen.push(`${row.id.slice(0, 2)}:${row.tenantId === a ? "a" : "b"}`)
      cursor = page.nextCursor
    } while (cursor !== null)
    expect(seen.sort()).toEqual(["k1:a", "k1:b", "k2:a", "k2:b"])
  })
})
