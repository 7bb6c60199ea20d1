import { SELF } from "cloudflare:test"
import { describe, expect, it } from "vitest"
import type { DbGrant } from "../src/db/index.js"
import { subscribe, uid } from "./db-helpers.js"

const call = (path: string, method: string, body?: unknown) =>
  SELF.fetch(`http://example.com${path}`, { method, headers: { "content-type": "application/json" }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) })

describe("the example worker's posts", () => {
  it("issues a tenant grant, streams insert/update/delete of that tenant's posts, and maps bad input to HTTP statuses", async () => {
    const tenantId = uid("tenant")
    const grantResponse = await call("/db/grants", "POST", { tenantId, userId: "u1" })
    expect(grantResponse.status).toBe(201)
    const grant = (await grantResponse.json()) as DbGrant
    expect(grant.url).toContain("database=app")
    const socket = await subscribe(grant.url, grant.protocols)
    expect((await call("/db/posts", "POST", { id: "p1", tenantId, title: "Hello" })).status).toBe(201)
    expect((await call(`/db/posts/p1?tenantId=${tenantId}`, "PATCH", { published: true })).status).toBe(200)
    expect((await call(`/db/posts/p1?tenantId=${tenantId}`, "DELETE")).status).toBe(200)
    const changes = await socket.waitChanges(3)
    expect(changes.map((c) => [c.seq, c.event, c.key])).toEqual([[1, "insert", "p1"], [2, "update", "p1"], [3, "delete", "p1"]])
    expect(changes[1].new).toEqual({ id: "p1", tenantId, title: "Hello", published: true })
    // Typed errors keep their statuses: a missing title, a duplicate id, a missing row, a bad grant request.
    expect((await call("/db/posts", "POST", { id: "p2", tenantId })).status).toBe(400)
    await call("/db/posts", "POST", { id: "p3", tenantId, title: "x" })
    expect((await call("/db/posts", "POST", { id: "p3", tenantId, title: "x" })).status).toBe(409)
    expect((await call(`/db/posts/nope?tenantId=${tenantId}`, "DELETE")).status).toBe(404)
    expect((await call("/db/grants", "POST", { tenantId })).status).toBe(400)
    const page = (await (await call(`/db/posts?tenantId=${tenantId}`, "GET")).json()) as { rows: Array<{ id: string }> }
    expect(page.rows.map((r) => r.id)).toEqual(["p3"])
    socket.close()
  })
})
