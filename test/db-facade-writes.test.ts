/**
 * The Promise facade's one-row writes take a direct path (no Effect fiber per call): they must
 * answer exactly what the Effect form answers, rows and typed rejections alike, for every kind of
 * input the Worker or the shard refuses.
 */
import type { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { runToPromise } from "../src/internal/PromiseFacade.js"
import { DbShardOps, writeResultsAsIs } from "../src/db/Ops.js"
import { post, testDb, uid } from "./db-helpers.js"

/** The outcome of a call: its value, or the typed error's tag, field and message. */
const outcome = (promise: Promise<unknown>) =>
  promise.then(
    (value) => ({ value }),
    (error: { _tag?: string; field?: string; message?: string }) => ({ error: { tag: error._tag, field: error.field, message: error.message } }),
  )

describe("Promise facade one-row writes", () => {
  it("answer the Effect form's rows and typed rejections, for accepted and refused inserts, updates and deletes", async () => {
    const tenant = uid("t")
    const facade = testDb.table("posts")
    const effect = testDb.effect.table("posts")
    // What the facade did for every method before: the Effect run by runToPromise.
    const run = <A>(op: Effect.Effect<A, unknown>) => runToPromise(op)
    // Deeper than rows may nest: refused in the Worker, before any call.
    const deep = (levels: number): unknown => (levels === 0 ? 1 : { next: deep(levels - 1) })
    const cases: ReadonlyArray<readonly [string, () => Promise<unknown>, () => Promise<unknown>]> = [
      ["insert", () => facade.insert(post(tenant, "idA")), () => run(effect.insert(post(tenant, "idB")))],
      ["insert refused by the row Schema", () => facade.insert({ ...post(tenant, "c"), views: "many" } as never), () => run(effect.insert({ ...post(tenant, "c"), views: "many" } as never))],
      ["insert without the shard key", () => facade.insert({ ...post(tenant, "d"), tenantId: undefined } as never), () => run(effect.insert({ ...post(tenant, "d"), tenantId: undefined } as never))],
      ["insert of a hostile shape", () => facade.insert({ ...post(tenant, "e"), tags: deep(200) } as never), () => run(effect.insert({ ...post(tenant, "e"), tags: deep(200) } as never))],
      ["insert of a duplicate key", () => facade.insert(post(tenant, "idA")), () => run(effect.insert(post(tenant, "idB")))],
      ["update", () => facade.update({ id: "idA", tenantId: tenant }, { title: "A" }), () => run(effect.update({ id: "idB", tenantId: tenant }, { title: "A" }))],
      ["update of a missing row", () => facade.update({ id: "zz", tenantId: tenant }, { title: "A" }), () => run(effect.update({ id: "zz", tenantId: tenant }, { title: "A" }))],
      ["update that names no column", () => facade.update({ id: "idA", tenantId: tenant }, {}), () => run(effect.update({ id: "idB", tenantId: tenant }, {}))],
      ["delete", () => facade.delete({ id: "idA", tenantId: tenant }), () => run(effect.delete({ id: "idB", tenantId: tenant }))],
      ["delete of a missing row", () => facade.delete({ id: "idA", tenantId: tenant }), () => run(effect.delete({ id: "idB", tenantId: tenant }))],
      ["a table the database lacks", () => testDb.table("nope" as never).insert({} as never), () => run(testDb.effect.table("nope" as never).insert({} as never))],
    ]
    for (const [name, viaFacade, viaEffect] of cases) {
      const [a, b] = [await outcome(viaFacade()), await outcome(viaEffect())]
      // Rows and messages differ only by their ids (idA / idB): compared with the ids aligned.
      expect(JSON.parse(JSON.stringify(a)), name).toEqual(JSON.parse(JSON.stringify(b).replaceAll("idB", "idA")))
    }
  })

  it("one-row writes of null-prototype values reach the shard like plain ones, through the stub and through the request's session", async () => {
    // The direct path skips the RPC input's plain copy only for flat objects of Object.prototype: a null-prototype
    // row, locator or patch must still be copied (the runtime refuses such objects: a StorageFailure instead of the row).
    const bare = (value: Record<string, unknown>) => Object.assign(Object.create(null) as Record<string, unknown>, value)
    const tenant = uid("nullproto")
    const request = new Request("https://db.test/writes")
    // Alone (no request: a stub per call), then inside one request (its second write on goes through the session).
    for (const [route, run] of [["alone", <A>(body: () => A) => body()], ["in a request", <A>(body: () => A) => testDb.withRequest(request, body)]] as const) {
      const id = `np-${route.replaceAll(" ", "-")}`
      const written = await run(() => testDb.table("posts").insert(bare(post(tenant, id)) as never))
      expect(written, route).toMatchObject({ id, tenantId: tenant })
      const updated = await run(() => testDb.table("posts").update(bare({ id, tenantId: tenant }) as never, bare({ title: "patched" }) as never))
      expect(updated.title, route).toBe("patched")
      const deleted = await run(() => testDb.table("posts").delete(bare({ id, tenantId: tenant }) as never))
      expect(deleted, route).toMatchObject({ id, title: "patched" })
    }
  })

  it("a write's answer is taken as it is when it has the shape the shard sends, and decoded by its Schema otherwise", () => {
    const decode = (value: unknown) => DbShardOps.write.decodeAnswerExit({ _tag: "Success", value })
    const results = [{ op: "insert", table: "posts", row: { id: "p1", tags: ["a"] } }]
    const taken = decode(results)
    expect(taken).toMatchObject({ _tag: "Success", value: results })
    expect(writeResultsAsIs(results)).toBe(results)
    // Anything else is the Schema's to decide: excess keys dropped, wrong shapes refused as an undecodable answer.
    const extra = [{ op: "insert", table: "posts", row: { id: "p1" }, extra: 1 }]
    expect(writeResultsAsIs(extra)).toBeUndefined()
    expect(decode(extra)).toMatchObject({ _tag: "Success", value: [{ op: "insert", table: "posts", row: { id: "p1" } }] })
    // The envelope: a success is opened as the envelope Schema would; one without a value is the Schema's to refuse.
    expect(DbShardOps.write.decodeAnswerExit({ _tag: "Success", value: results, extra: 1 })).toMatchObject({ _tag: "Success", value: results })
    expect(JSON.stringify(DbShardOps.write.decodeAnswerExit({ _tag: "Success" }))).toContain("undecodable answer")
    expect(DbShardOps.write.decodeAnswerExit({ _tag: "Failure", cause: { _tag: "Fail", error: { _tag: "NotFound", what: "posts", message: "gone" } } })).toMatchObject({ _tag: "Failure" })
    for (const bad of [[{ op: "upsert", table: "posts", row: {} }], [{ op: "insert", table: "posts", row: [1] }], [{ op: "insert", table: 1, row: {} }], { op: "insert" }, [null]]) {
      expect(writeResultsAsIs(bad)).toBeUndefined()
      const refused = decode(bad)
      expect(refused._tag).toBe("Failure")
      expect(JSON.stringify(refused)).toContain("undecodable answer")
    }
  })
})
