import { SELF } from "cloudflare:test"
import * as jose from "jose"
import { describe, expect, it } from "vitest"
import { audienceOf, ISSUER } from "../src/services/Grants.js"
import { tamperSignature, TEST_GRANT_SECRET, testGrantKey } from "./grant-keys.js"
import { login } from "./example-session.js"
import type { DbGrant } from "../src/db/index.js"
import { openStream, post, postsGrant, streamUrl, subscribe, testDb, uid } from "./db-helpers.js"

/** Open and expect a refusal before accept, with the error's tag. */
const refused = async (url: string, protocols: ReadonlyArray<string>, status: number, tag: string) => {
  const { response, socket } = await openStream(url, protocols)
  expect(socket, `accepted ${url}`).toBeUndefined()
  expect(response.status).toBe(status)
  const body = (await response.json()) as { error: { _tag: string; message: string } }
  expect(body.error._tag).toBe(tag)
  return body.error
}

const jwtOf = (protocols: ReadonlyArray<string>) => protocols[1].slice("durable-realtime.jwt.".length)
const withToken = (token: string) => ["durable-realtime.realtime.v1", `durable-realtime.jwt.${token}`]

describe("change-stream access", () => {
  it("refuses every bad handshake before the socket is accepted, with a clear status", async () => {
    const tenant = uid("t")
    const grant = await postsGrant({ tenantId: tenant })
    const url = (filters: Record<string, unknown> | undefined, extra: Record<string, string> = {}) => streamUrl("posts", filters, extra)
    // Private table without a grant.
    expect((await refused(url({ tenantId: tenant }), ["durable-realtime.realtime.v1"], 401, "Unauthorized")).message).toContain("private")
    // A tampered grant, and a token signed with another key.
    const token = jwtOf(grant.protocols)
    await refused(grant.url, withToken(tamperSignature(token)), 401, "Unauthorized")
    const foreign = await new jose.SignJWT({ scope: { type: "table", instance: "default/dbtest", resource: "posts", actor: { type: "user", id: "m" }, permissions: ["read"], filters: { tenantId: tenant } } } as never)
      .setProtectedHeader({ alg: "HS256", kid: testGrantKey.kid })
      .setIssuer(ISSUER)
      .setAudience(audienceOf("table"))
      .setIssuedAt()
      .setExpirationTime("1m")
      .setJti("x")
      .sign(new TextEncoder().encode(`${TEST_GRANT_SECRET}-not`))
    await refused(grant.url, withToken(foreign), 401, "Unauthorized")
    // An expired grant.
    const expired = await new jose.SignJWT({ scope: { type: "table", instance: "default/dbtest", resource: "posts", actor: { type: "user", id: "m" }, permissions: ["read"], filters: { tenantId: tenant } } } as never)
      .setProtectedHeader({ alg: "HS256", kid: testGrantKey.kid })
      .setIssuer(ISSUER)
      .setAudience(audienceOf("table"))
      .setIssuedAt(Math.floor(Date.now() / 1000) - 600)
      .setExpirationTime(Math.floor(Date.now() / 1000) - 300)
      .setJti("y")
      .sign(testGrantKey.key)
    expect((await refused(grant.url, withToken(expired), 401, "Unauthorized")).message).toContain("expired")
    // A grant for another table (a room grant is for another audience; a table grant for notes is another scope).
    const notesGrant = await testDb.realtime.authorize({ table: "notes", actor: { type: "user", id: "u" } })
    await refused(url({ tenantId: tenant }), notesGrant.protocols, 401, "Unauthorized")
    // Widened filters: another tenant, or dropping a filter the grant has.
    await refused(url({ tenantId: "someone-else" }), grant.protocols, 403, "Forbidden")
    const narrowGrant = await postsGrant({ tenantId: tenant, authorId: "a1" })
    await refused(url({ tenantId: tenant }), narrowGrant.protocols, 403, "Forbidden")
    // Events wider than the grant's.
    const insertsOnly = await postsGrant({ tenantId: tenant }, { events: ["insert"] })
    await refused(url({ tenantId: tenant }, { events: "insert,delete" }), insertsOnly.protocols, 403, "Forbidden")
    // Undeclared filter column, malformed JSON, a value of the wrong type, a required filter missing.
    expect((await refused(url({ tenantId: tenant, title: "x" }), grant.protocols, 400, "InvalidInput")).message).toContain("title")
    await refused(`/realtime-db?namespace=default&database=dbtest&table=posts&filters=${encodeURIComponent("{tenantId:")}`, grant.protocols, 400, "InvalidInput")
    await refused(url({ tenantId: 42 }), grant.protocols, 400, "InvalidInput")
    await refused(url([tenant] as never), grant.protocols, 400, "InvalidInput")
    expect((await refused(streamUrl("notes", { body: "x" }), [], 400, "InvalidInput")).message).toContain("body")
    // Unknown database or table, a table that is not streamed, missing parameters, not an upgrade.
    await refused("/realtime-db?namespace=default&database=nope&table=posts", [], 404, "NotFound")
    await refused(streamUrl("audit"), [], 404, "NotFound")
    await refused("/realtime-db?table=posts", [], 400, "InvalidInput")
    await refused(url({ tenantId: tenant }, { snapshot: "true", since: "3" }), grant.protocols, 400, "InvalidInput")
    // A plain GET (no upgrade) is refused too.
    const plain = await SELF.fetch(`http://example.com${grant.url}`)
    expect(plain.status).toBe(400)
    // None of that touched the stream: the good grant still connects and sees seq 0.
    const socket = await subscribe(grant.url, grant.protocols)
    expect(socket.frames.find((f) => f.type === "ready")!.seq).toBe(0)
    socket.close()
  })

  it("a required filter is required for public tables too, and a private grant cannot be issued without one", async () => {
    const missing = await testDb.realtime.authorize({ table: "posts", filters: { authorId: "a" }, actor: { type: "user", id: "u" } }).catch((error) => error)
    expect(missing._tag).toBe("InvalidInput")
    expect(missing.message).toContain("tenantId")
    const undeclared = await testDb.realtime.authorize({ table: "posts", filters: { tenantId: "t", title: "x" }, actor: { type: "user", id: "u" } }).catch((error) => error)
    expect(undeclared._tag).toBe("InvalidInput")
    const badEvent = await testDb.realtime.authorize({ table: "posts", filters: { tenantId: "t" }, events: ["truncate" as never], actor: { type: "user", id: "u" } }).catch((error) => error)
    expect(badEvent._tag).toBe("InvalidInput")
    const notStreamed = await testDb.realtime.authorize({ table: "audit", actor: { type: "user", id: "u" } }).catch((error) => error)
    expect(notStreamed._tag).toBe("InvalidInput")
    const badTtl = await testDb.realtime.authorize({ table: "posts", filters: { tenantId: "t" }, ttlSeconds: 0, actor: { type: "user", id: "u" } }).catch((error) => error)
    expect(badTtl._tag).toBe("InvalidInput")
  })

  it("a grant's filters may be left out of the URL (the grant's apply) and the grant binds the actor and expiry", async () => {
    const tenant = uid("t")
    const grant = await postsGrant({ tenantId: tenant }, { ttlSeconds: 120, actor: "alice" })
    // Seed 003: expiresAt is an ISO string (it was epoch ms).
    expect(Date.parse(grant.expiresAt)).toBeGreaterThan(Date.now() + 100_000)
    const socket = await subscribe("/realtime-db?namespace=default&database=dbtest&table=posts", grant.protocols)
    const ready = socket.frames.find((f) => f.type === "ready")!
    expect(ready).toMatchObject({ filters: { tenantId: tenant }, expiresAt: Date.parse(grant.expiresAt), events: ["insert", "update", "delete"] })
    await testDb.table("posts").insert(post(tenant, "g1"))
    await testDb.table("posts").insert(post(uid("other"), "g2"))
    await socket.waitChanges(1)
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(socket.changes().map((c) => c.new.id)).toEqual(["g1"])
    // The socket is one-way: frames other than ping get an error frame, ping a pong.
    socket.send("hello")
    await socket.waitFor((f) => f.type === "error")
    socket.send('{"type":"ping"}')
    await socket.waitFor((f) => f.type === "pong")
    socket.close()
  })

  it("a socket whose grant expires is closed with 4001 (refresh and reconnect) by the hub's expiry job", async () => {
    const tenant = uid("t")
    // Grants expire on whole seconds, so a 2-second grant has between 1 and 2 seconds left.
    const grant = await postsGrant({ tenantId: tenant }, { ttlSeconds: 2 })
    const socket = await subscribe(grant.url, grant.protocols)
    const closed = await Promise.race([socket.closed, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 6000))])
    expect(closed?.code).toBe(4001)
  })
})

// The example's grant route issues grants to a logged-in person only (examples/routes/session.ts).
let cookie = ""
const call = (path: string, method: string, body?: unknown) =>
  SELF.fetch(`http://example.com${path}`, { method, headers: { "content-type": "application/json", cookie }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) })

describe("the example worker's posts", () => {
  it("issues a tenant grant, streams insert/update/delete of that tenant's posts, and maps bad input to HTTP statuses", async () => {
    const tenantId = uid("tenant")
    cookie = (await login("Poster")).cookie
    const grantResponse = await call("/db/grants", "POST", { tenantId })
    expect(grantResponse.status).toBe(201)
    const grant = (await grantResponse.json()) as DbGrant
    expect(grant.url).toContain("database=app")
    const socket = await subscribe(grant.url, grant.protocols)
    expect((await call("/db/posts", "POST", { id: "p1", tenantId, title: "Hello" })).status).toBe(201)
    expect((await call(`/db/posts/p1?tenantId=${tenantId}`, "PATCH", { published: true })).status).toBe(200)
    expect((await call(`/db/posts/p1?tenantId=${tenantId}`, "DELETE")).status).toBe(200)
    const changes = await socket.waitChanges(3)
    expect(changes.map((c) => [c.seq, c.event, c.key])).toEqual([[1, "insert", { id: "p1" }], [2, "update", { id: "p1" }], [3, "delete", { id: "p1" }]])
    expect(changes[1].new).toEqual({ id: "p1", tenantId, title: "Hello", published: true })
    // Typed errors keep their statuses: a missing title, a duplicate id, a missing row, a bad grant request.
    expect((await call("/db/posts", "POST", { id: "p2", tenantId })).status).toBe(400)
    await call("/db/posts", "POST", { id: "p3", tenantId, title: "x" })
    expect((await call("/db/posts", "POST", { id: "p3", tenantId, title: "x" })).status).toBe(409)
    expect((await call(`/db/posts/nope?tenantId=${tenantId}`, "DELETE")).status).toBe(404)
    expect((await call("/db/grants", "POST", {})).status).toBe(400)
    const page = (await (await call(`/db/posts?tenantId=${tenantId}`, "GET")).json()) as { rows: Array<{ id: string }> }
    expect(page.rows.map((r) => r.id)).toEqual(["p3"])
    socket.close()
  })
})
