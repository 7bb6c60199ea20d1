import { env } from "cloudflare:test"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { ID_CACHE_SIZE, makeStubCache, objectIdOf, requestStubs, type ObjectNamespace } from "../src/internal/ObjectStubs.js"
import { makeWritesNow } from "../src/db/Database.js"
import { runWithAmbientRequest } from "../src/internal/PromiseFacade.js"
import { objectName, plainInput, sendToActor } from "../src/internal/rpc.js"
import { shardId, shardOf } from "../src/db/Placement.js"
import { post, postsGrant, subscribe, testDb, uid } from "./db-helpers.js"

/** A namespace that counts what it is asked and hands out numbered stubs; `failing` stubs throw. */
const countingNamespace = () => {
  const counts = { idFromName: 0, get: 0 }
  let failing = false
  const namespace: ObjectNamespace = {
    idFromName: (name) => {
      counts.idFromName++
      return { name, toString: () => name } as unknown as DurableObjectId
    },
    get: () => {
      const serial = ++counts.get
      return {
        serial,
        invoke: async () => {
          if (failing) throw new Error("stub broken")
          return { _tag: "Success", value: serial }
        },
      }
    },
  }
  return { namespace, counts, fail: (value: boolean) => (failing = value) }
}

const address = { instance: "stubs", id: "hub-1" }

describe("object ids and stubs", () => {
  it("hashes a name once per namespace and forgets the oldest name past the bound", () => {
    const { namespace, counts } = countingNamespace()
    const first = objectIdOf(namespace, "a")
    expect(objectIdOf(namespace, "a")).toBe(first)
    expect(counts.idFromName).toBe(1)
    // Another namespace is another cache.
    const other = countingNamespace()
    objectIdOf(other.namespace, "a")
    expect(other.counts.idFromName).toBe(1)
    // ID_CACHE_SIZE more names: "a", the oldest, leaves; the newest stay.
    for (let n = 0; n < ID_CACHE_SIZE; n++) objectIdOf(namespace, `n${n}`)
    const before = counts.idFromName
    objectIdOf(namespace, `n${ID_CACHE_SIZE - 1}`)
    expect(counts.idFromName).toBe(before)
    objectIdOf(namespace, "a")
    expect(counts.idFromName).toBe(before + 1)
  })

  it("reuses an object's stub for every call until a call throws, then makes a new one", async () => {
    const { namespace, counts, fail } = countingNamespace()
    const stubs = makeStubCache()
    const call = () => Effect.runPromise(Effect.either(sendToActor(namespace, "tableHub", address, "state", {}, undefined, { stubs })))
    expect(await call()).toMatchObject({ _tag: "Right", right: { value: 1 } })
    expect(await call()).toMatchObject({ _tag: "Right", right: { value: 1 } })
    expect(counts.get).toBe(1)
    fail(true)
    expect(await call()).toMatchObject({ _tag: "Left", left: { _tag: "StorageFailure" } })
    expect(stubs.size()).toBe(0)
    fail(false)
    expect(await call()).toMatchObject({ _tag: "Right", right: { value: 2 } })
    expect(counts.get).toBe(2)
    // The id was hashed once for all of them.
    expect(counts.idFromName).toBe(1)
  })

  it("without a stub cache (a Worker request) makes a stub per call from the cached id", async () => {
    const { namespace, counts } = countingNamespace()
    const call = () => Effect.runPromise(sendToActor(namespace, "tableHub", address, "state", {}))
    await call()
    await call()
    expect(counts.get).toBe(2)
    expect(counts.idFromName).toBe(1)
  })

  it("one-row writes inside an ambient request share one stub per shard; outside one, each makes its own", async () => {
    const { namespace, counts } = countingNamespace()
    const writes = makeWritesNow(testDb.definition, { [testDb.definition.bindings.shards]: namespace })("posts")
    const tenant = uid("t")
    // The counting stub answers every call with a number, which the write's answer Schema refuses: only the calls count here.
    const three = () => Promise.allSettled([1, 2, 3].map((n) => writes.insert(post(tenant, `s${n}`))))
    await three()
    expect(counts.get).toBe(3)
    const request = new Request("http://example.com/")
    await runWithAmbientRequest(request, three)
    expect(counts.get).toBe(4)
    expect(requestStubs(request)).toBe(requestStubs(request))
    expect(requestStubs(new Request("http://example.com/"))).not.toBe(requestStubs(request))
    expect(requestStubs(undefined)).toBeUndefined()
  })

  it("keeps a bounded number of stubs", () => {
    const { namespace } = countingNamespace()
    const stubs = makeStubCache(3)
    for (const name of ["a", "b", "c", "d"]) stubs.stubOf(namespace, name)
    expect(stubs.size()).toBe(3)
  })

  it("ids cached in one request serve the next: writes from successive requests reach the shard and stream", async () => {
    const tenant = uid("t")
    const grant = await postsGrant({ tenantId: tenant })
    const socket = await subscribe(grant.url, grant.protocols)
    const posts = testDb.table("posts")
    for (const id of ["s1", "s2", "s3"]) await posts.insert(post(tenant, id))
    const changes = await socket.waitChanges(3)
    expect(changes.map((change) => change.new.id)).toEqual(["s1", "s2", "s3"])
    socket.close()
  })

  it("writes of one ambient request go through one RPC session from the second on, never past a write still in flight on the stub", async () => {
    // A stand-in stub whose calls (on the stub or its session) settle when the test says, in a log.
    const log: Array<string> = []
    const pending: Array<() => void> = []
    const answer = (channel: string) => async (request: { input: { writes: Array<{ row: { id: string } }> } }) => {
      log.push(`${channel} ${request.input.writes[0].row.id}`)
      await new Promise<void>((resolve) => pending.push(resolve))
      return { _tag: "Success", value: 0 }
    }
    let sessions = 0
    const namespace: ObjectNamespace = {
      idFromName: (name) => ({ name, toString: () => name }) as unknown as DurableObjectId,
      get: () => ({
        invoke: answer("stub"),
        session: async () => {
          sessions++
          return { invoke: answer("session") }
        },
      }),
    }
    const writes = makeWritesNow(testDb.definition, { [testDb.definition.bindings.shards]: namespace })("posts")
    const tenant = uid("t")
    const settleAll = async () => {
      while (pending.length > 0) pending.shift()!()
      await new Promise((resolve) => setTimeout(resolve, 1))
    }
    // The stand-in answers a number, which the write's answer Schema refuses: only the route of each call counts here.
    const write = (id: string) => writes.insert(post(tenant, id)).catch(() => undefined)
    await runWithAmbientRequest(new Request("http://example.com/"), async () => {
      const first = write("w1")
      await settleAll()
      await first
      expect(sessions).toBe(0)
      // The second write asks for the session and goes on the stub; it is still in flight when the session is open.
      const second = write("w2")
      await new Promise((resolve) => setTimeout(resolve, 1))
      expect(sessions).toBe(1)
      const third = write("w3")
      await settleAll()
      await Promise.all([second, third])
      const fourth = write("w4")
      const fifth = write("w5")
      await settleAll()
      await Promise.all([fourth, fifth])
    })
    expect(log).toEqual(["stub w1", "stub w2", "stub w3", "session w4", "session w5"])
    expect(sessions).toBe(1)
    // Outside a request no stub is kept: no session is asked for.
    log.length = 0
    const outside = [write("o1"), write("o2"), write("o3")]
    await settleAll()
    await Promise.all(outside)
    expect(log).toEqual(["stub o1", "stub o2", "stub o3"])
    expect(sessions).toBe(1)
  })

  it("through a shard's real RPC session, writes of one request answer their rows and typed refusals as on the stub", async () => {
    const tenant = uid("t")
    const posts = testDb.table("posts")
    const outcome = (promise: Promise<unknown>) => promise.then((row) => ({ row }), (error: { _tag?: string; field?: string }) => ({ error: error._tag, field: error.field }))
    const results = await testDb.withRequest(new Request("http://example.com/"), async () => {
      const answers: Array<unknown> = []
      for (const id of ["r1", "r2", "r3", "r4"]) answers.push(await outcome(posts.insert(post(tenant, id))))
      answers.push(await outcome(posts.insert(post(tenant, "r2"))))
      answers.push(await outcome(posts.update({ id: "r3", tenantId: tenant }, { title: "updated" })))
      answers.push(await outcome(posts.update({ id: "nope", tenantId: tenant }, { title: "x" })))
      return answers
    })
    expect(results.slice(0, 4).map((answer) => (answer as { row: { id: string } }).row.id)).toEqual(["r1", "r2", "r3", "r4"])
    expect(results[4]).toMatchObject({ error: "ConstraintViolation" })
    expect(results[5]).toMatchObject({ row: { id: "r3", title: "updated" } })
    expect(results[6]).toMatchObject({ error: "NotFound" })
    expect(await testDb.table("posts").get({ id: "r4", tenantId: tenant })).toMatchObject({ id: "r4" })
    // The shard hands out sessions that answer as its stub does (a shard without them would leave every write on the stub).
    const namespace = (env as unknown as Record<string, DurableObjectNamespace>)[testDb.definition.bindings.shards]!
    const shard = testDb.definition.shards === 1 ? 0 : shardOf(tenant, testDb.definition.shards)
    const stub = namespace.get(namespace.idFromName(objectName(testDb.definition.instance, "dbShard", shardId(shard)))) as unknown as { session(): Promise<{ invoke(request: unknown): Promise<unknown> }> }
    const session = await stub.session()
    const request = { address: { instance: testDb.definition.instance, id: shardId(shard) }, op: "write", input: { writes: [{ op: "insert", table: "posts", row: post(tenant, "r5") }] } }
    expect(await session.invoke(request)).toMatchObject({ _tag: "Success", value: [{ op: "insert", row: { id: "r5" } }] })
  })

  it("a session opened for an address answers invokeOp(op, input) as invoke answers the whole request; its address and op are checked as any request's", async () => {
    const tenant = uid("t")
    const namespace = (env as unknown as Record<string, DurableObjectNamespace>)[testDb.definition.bindings.shards]!
    const shard = testDb.definition.shards === 1 ? 0 : shardOf(tenant, testDb.definition.shards)
    type Session = { invokeOp(op: unknown, input?: unknown): Promise<unknown> }
    const stub = namespace.get(namespace.idFromName(objectName(testDb.definition.instance, "dbShard", shardId(shard)))) as unknown as { session(address?: unknown): Promise<Session> }
    const address = { instance: testDb.definition.instance, id: shardId(shard) }
    const session = await stub.session(address)
    const insert = (id: string) => ({ writes: [{ op: "insert", table: "posts", row: post(tenant, id) }] })
    expect(await session.invokeOp("write", insert("o1"))).toMatchObject({ _tag: "Success", value: [{ op: "insert", table: "posts", row: { id: "o1", tenantId: tenant } }] })
    // A typed refusal travels as on the stub: the duplicate key, a table the database lacks, an operation the shard does not have.
    expect(JSON.stringify(await session.invokeOp("write", insert("o1")))).toContain("ConstraintViolation")
    expect(JSON.stringify(await session.invokeOp("write", { writes: [{ op: "insert", table: "nope", row: post(tenant, "o2") }] }))).toContain("InvalidInput")
    expect(JSON.stringify(await session.invokeOp("drop", {}))).toContain("InvalidInput")
    // A session opened without an address (or for a malformed one) refuses every call as a request without one is refused.
    const unaddressed = await stub.session()
    expect(JSON.stringify(await unaddressed.invokeOp("write", insert("o3")))).toContain("address")
    expect(await testDb.table("posts").get({ id: "o3", tenantId: tenant })).toBeNull()
  })

  it("an RPC input is sent as it is unless it holds a null-prototype object, which is copied plain; too deep is refused either way", () => {
    const plain = { writes: [{ op: "insert", table: "posts", row: { id: "a", tags: ["x"], at: new Date(0) } }] }
    expect(plainInput(plain)).toBe(plain)
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, { title: "t" })
    const input = { writes: [{ op: "update", patch: bare }] }
    const sent = plainInput(input) as { writes: Array<{ patch: object }> }
    expect(sent).not.toBe(input)
    expect(Object.getPrototypeOf(sent.writes[0].patch)).toBe(Object.prototype)
    expect(sent.writes[0].patch).toEqual({ title: "t" })
    expect(Object.getPrototypeOf(bare)).toBeNull()
    // Deep nesting after a null-prototype object: the copy checks depth too.
    let deep: unknown = "leaf"
    for (let n = 0; n < 200; n++) deep = { deep }
    expect(() => plainInput({ first: Object.create(null), second: deep })).toThrow(/nested deeper than/)
    expect(() => plainInput({ second: deep })).toThrow(/nested deeper than/)
  })
})
