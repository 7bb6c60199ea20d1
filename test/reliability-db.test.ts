/**
 * S4 — filter escalation on table streams, as a property: for random write sequences, every
 * subscriber receives exactly the changes its grant's predicate allows (inserts, updates, rows
 * entering and leaving its scope, deletes), and no delivered image falls outside the predicate.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { post, postsGrant, subscribe, testDb, uid, type DbSocket } from "./db-helpers.js"
import { runTest, service } from "./helpers.js"

type Row = { id: string; authorId: string; published: boolean; title: string }
type Op =
  | { readonly kind: "insert"; readonly id: string; readonly authorId: string; readonly published: boolean }
  | { readonly kind: "update"; readonly id: string; readonly patch: Partial<Pick<Row, "authorId" | "published" | "title">> }
  | { readonly kind: "delete"; readonly id: string }

const ids = ["p0", "p1", "p2"]
const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant("insert" as const), id: fc.constantFrom(...ids), authorId: fc.constantFrom("a1", "a2"), published: fc.boolean() }),
  fc.record({
    kind: fc.constant("update" as const),
    id: fc.constantFrom(...ids),
    patch: fc.record({ authorId: fc.constantFrom("a1", "a2"), published: fc.boolean(), title: fc.constantFrom("x", "y") }, { requiredKeys: [] }),
  }),
  fc.record({ kind: fc.constant("delete" as const), id: fc.constantFrom(...ids) }),
)

const scopes: ReadonlyArray<Partial<Pick<Row, "authorId" | "published">>> = [{}, { published: true }, { authorId: "a1" }, { authorId: "a1", published: true }]
const matches = (scope: Partial<Row>, row: Row | null) => row !== null && Object.entries(scope).every(([key, value]) => row[key as keyof Row] === value)

/** What a subscriber with `scope` must receive for one committed change. */
const expectedFor = (scope: Partial<Row>, before: Row | null, after: Row | null): string | undefined => {
  const was = matches(scope, before)
  const is = matches(scope, after)
  if (before === null) return is ? `insert:${after!.id}` : undefined
  if (after === null) return was ? `delete:${before.id}` : undefined
  if (was && is) return `update:${after.id}`
  if (!was && is) return `insert:${after.id}:entered`
  if (was && !is) return `delete:${before.id}:left`
  return undefined
}

describe("S4: table streams never widen a grant", () => {
  it("random writes: each subscriber gets exactly what its filters allow, and nothing outside them", async () => {
    let runs = 0
    let checked = 0
    let violations = 0
    await fc.assert(
      fc.asyncProperty(fc.array(opArbitrary, { minLength: 1, maxLength: 10 }), async (ops) => {
        runs++
        const tenant = uid("esc")
        const sockets: Array<DbSocket> = []
        for (const scope of scopes) {
          const grant = await postsGrant({ tenantId: tenant, ...scope })
          sockets.push(await subscribe(grant.url, grant.protocols))
        }
        const model = new Map<string, Row>()
        const expected: Array<Array<string>> = scopes.map(() => [])
        const posts = testDb.table("posts")
        // Ids are scoped to this run so runs never meet (keys are unique per tenant, and each run is a new tenant).
        for (const generated of ops) {
          const op = { ...generated, id: `${generated.id}-${tenant}` }
          const before = model.get(op.id) ?? null
          let after: Row | null = before
          if (op.kind === "insert") {
            if (before !== null) continue
            await posts.insert(post(tenant, op.id, { authorId: op.authorId, published: op.published, title: "t" }))
            after = { id: op.id, authorId: op.authorId, published: op.published, title: "t" }
          } else if (op.kind === "update") {
            if (before === null || Object.keys(op.patch).length === 0) continue
            await posts.update({ id: op.id, tenantId: tenant }, op.patch)
            after = { ...before, ...op.patch }
          } else {
            if (before === null) continue
            await posts.delete({ id: op.id, tenantId: tenant })
            after = null
          }
          if (after === null) model.delete(op.id)
          else model.set(op.id, after)
          scopes.forEach((scope, index) => {
            const event = expectedFor(scope, before, after)
            if (event !== undefined) expected[index]!.push(event)
          })
        }
        let ok = true
        for (const [index, socket] of sockets.entries()) {
          const want = expected[index]!
          const got = want.length === 0 ? socket.changes() : await socket.waitChanges(want.length).catch(() => socket.changes())
          // Give stray deliveries a moment to show up before declaring the stream clean.
          if (want.length === 0) await new Promise((resolve) => setTimeout(resolve, 50))
          const seen = socket.changes().map((change) => `${change.event}:${(change.new ?? change.old).id}${change.scope === undefined ? "" : `:${change.scope}`}`)
          const outside = socket.changes().filter((change) => (change.new !== null && !matches(scopes[index]!, change.new)) || (change.old !== null && !matches(scopes[index]!, change.old)))
          checked += got.length
          if (JSON.stringify(seen) !== JSON.stringify(want) || outside.length > 0) {
            ok = false
            violations++
          }
          socket.close()
        }
        return ok
      }),
      { numRuns: 15, seed: 42 },
    )
    console.log(`S4 figures: runs=${runs} subscribers=${runs * scopes.length} changesChecked=${checked} violations=${violations}`)
    expect(violations).toBe(0)
  })

  it("null-prototype inputs (what fast-check generated) reach the actor like plain objects, not as a storage failure", async () => {
    const tenant = uid("nullproto")
    await testDb.table("posts").insert(post(tenant, `n-${tenant}`))
    const patch = Object.assign(Object.create(null) as Record<string, unknown>, { title: "from a null-prototype object" })
    const updated = await testDb.table("posts").update({ id: `n-${tenant}`, tenantId: tenant }, patch)
    expect(updated.title).toBe("from a null-prototype object")
    const data = Object.assign(Object.create(null) as Record<string, unknown>, { nested: Object.assign(Object.create(null) as object, { ok: true }) })
    const { message } = await runTest(service("test").room(uid("nullproto-room")).publish({ type: "x", data }))
    expect(message.data).toEqual({ nested: { ok: true } })
  })
})
