import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { ID_CACHE_SIZE, makeStubCache, objectIdOf, requestStubs, type ObjectNamespace } from "../src/internal/ObjectStubs.js"
import { makeWritesNow } from "../src/db/Database.js"
import { runWithAmbientRequest } from "../src/internal/PromiseFacade.js"
import { plainInput, sendToActor } from "../src/internal/rpc.js"
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
