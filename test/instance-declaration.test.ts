/**
 * Instances and databases are declared at module scope and every Durable Object resolves its
 * options from its own isolate's declarations: an object addressed for an undeclared instance
 * fails loudly (typed `InstanceNotDeclared` + a console.error line), never with default options.
 * The cross-isolate proof (objects in a separate worker script) is `cross-isolate.test.ts`.
 */
import { env, SELF } from "cloudflare:test"
import { Effect } from "effect"
import { afterEach, describe, expect, it, vi } from "vitest"
import { declareRealtime, instanceConfig, lookupInstance, resolveConfig } from "../src/Config.js"
import { Realtime, makeRealtime } from "../src/Realtime.js"
import { realtime } from "../src/facade.js"
import { InstanceNotDeclared } from "../src/RealtimeError.js"
import { DbShardOps, TableHubOps } from "../src/db/Ops.js"
import { callActor, type ActorNamespace } from "../src/internal/rpc.js"
import { failureOf, runExit, runTest, uniqueId } from "./helpers.js"

const bindings = env as unknown as Record<string, unknown>

// Declared at import time, as an app would: the layer consumes the declaration.
const declared = Realtime.declare({ name: "declared-fx", historyLimit: 3 })
const declaredLayer = Realtime.layer(declared, { env: bindings })
// Options given to Realtime.layer declare the instance when `layer` is called, not when built.
const optionsLayer = Realtime.layer({ name: "declared-layer-options", historyLimit: 2, env: bindings })

afterEach(() => {
  vi.restoreAllMocks()
})

describe("instance declarations", () => {
  it("Realtime.layer(options) declares at call time, before any layer is built", () => {
    expect(lookupInstance("declared-layer-options")?.historyLimit).toBe(2)
    expect(optionsLayer).toBeDefined()
  })

  it("Realtime.layer(declaration) and realtime(declaration) run with the declared options", async () => {
    const id = uniqueId("declared")
    const publishFive = Effect.forEach([1, 2, 3, 4, 5], (n) => Realtime.room(id).publish({ type: "n", data: n }))
    await runTest(Effect.provide(publishFive, declaredLayer))
    const facade = realtime(declared, { env: bindings })
    const page = await facade.room(id).history()
    expect(page.messages.map((message) => message.data)).toEqual([5, 4, 3])
  })

  it("a later declaration of the same name refines the options", () => {
    const name = uniqueId("refined")
    const first = declareRealtime({ name, historyLimit: 7, maxPayloadBytes: 100 })
    declareRealtime({ name, maxPayloadBytes: 200 })
    expect(first.config.historyLimit).toBe(7)
    expect(first.config.maxPayloadBytes).toBe(200)
  })

  it("an object addressed for an undeclared instance fails with InstanceNotDeclared and logs it", async () => {
    const logged = vi.spyOn(console, "error").mockImplementation(() => undefined)
    const name = uniqueId("undeclared")
    // Build a handle without declaring (as a Worker in another isolate would): the object refuses.
    const rt = makeRealtime(resolveConfig({ name }), bindings)
    const error = failureOf(await runExit(rt.room("r1").publish({ type: "x" })))
    expect(error).toBeInstanceOf(InstanceNotDeclared)
    expect(error).toMatchObject({ _tag: "InstanceNotDeclared", instance: name, kind: "room" })
    expect(logged.mock.calls.some(([line]) => String(line).includes(`no instance "${name}" is declared`))).toBe(true)
    // Nothing was stored: declaring it now, the room is empty.
    const later = makeRealtime(declareRealtime({ name }).config, bindings)
    expect((await runTest(later.room("r1").history())).messages).toEqual([])
  })

  it("instanceConfig throws the typed error instead of answering defaults", () => {
    vi.spyOn(console, "error").mockImplementation(() => undefined)
    expect(() => instanceConfig(uniqueId("nobody"))).toThrow(InstanceNotDeclared)
  })

  it("the live route answers 404 for an instance this Worker never declared", async () => {
    const response = await SELF.fetch(`https://example.com/realtime/${uniqueId("nowhere")}/rooms/r1/events`)
    expect(response.status).toBe(404)
    expect(await response.json()).toMatchObject({ error: { _tag: "NotFound", what: "instance" } })
  })

  it("a db shard or hub addressed for an undeclared database fails with InstanceNotDeclared and logs it", async () => {
    const logged = vi.spyOn(console, "error").mockImplementation(() => undefined)
    const instance = `default/${uniqueId("nodb")}`
    for (const [binding, kind, op] of [["REALTIME_DB_SHARDS", "dbShard", DbShardOps.outbox], ["REALTIME_TABLE_HUBS", "tableHub", TableHubOps.state]] as const) {
      const exit = await runExit(callActor(bindings[binding] as ActorNamespace, kind, { instance, id: "shard-0" }, op, {}))
      expect(failureOf(exit)).toMatchObject({ _tag: "InstanceNotDeclared", instance, kind })
    }
    expect(logged.mock.calls.filter(([line]) => String(line).includes(`no database "${instance}"`)).length).toBe(2)
  })
})
