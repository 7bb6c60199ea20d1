import { abortAllDurableObjects } from "cloudflare:test"
import { Effect } from "effect"
import { describe, expect, it, vi } from "vitest"
import { makeRealtime } from "../src/Realtime.js"
import { declareRealtime } from "../src/Config.js"
import { env } from "cloudflare:test"
import { runTest, service, uniqueId } from "./helpers.js"

describe("named instances", () => {
  it("share nothing: the same room id in two instances is two rooms", async () => {
    const id = uniqueId("shared-name")
    await runTest(service("test").room(id).publish({ type: "in-test" }))
    await runTest(service("other").room(id).publish({ type: "in-other" }))
    const a = await runTest(service("test").room(id).history())
    const b = await runTest(service("other").room(id).history())
    expect(a.messages.map((m) => m.type)).toEqual(["in-test"])
    expect(b.messages.map((m) => m.type)).toEqual(["in-other"])
  })
})

describe("instance stats", () => {
  it("counts rooms, channels and messages, and stays right after every object restarts", async () => {
    const name = uniqueId("stats")
    // Declared here, in the isolate that also hosts the objects in this test pool.
    const rt = makeRealtime(declareRealtime({ name }).config, env as unknown as Record<string, unknown>)
    await runTest(Effect.forEach([1, 2, 3], (i) => rt.room("a").publish({ type: "n", data: i })))
    await runTest(rt.room("b").publish({ type: "n" }))
    await runTest(rt.channel("feed").publish({ type: "n" }))
    const expected = { instance: name, rooms: 2, channels: 1, messages: 5 }
    await vi.waitFor(async () => expect(await runTest(rt.stats())).toMatchObject(expected), { timeout: 5_000, interval: 100 })
    await abortAllDurableObjects()
    expect(await runTest(rt.stats())).toMatchObject(expected)
    await runTest(rt.room("b").destroy())
    await vi.waitFor(async () => expect(await runTest(rt.stats())).toMatchObject({ rooms: 1, channels: 1 }), { timeout: 5_000, interval: 100 })
  })
})
