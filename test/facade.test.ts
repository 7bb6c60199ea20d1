import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { InvalidInput, Realtime, RoomDestroyed } from "../src/index.js"
import { headerIdentityInstance, testInstance } from "./worker.js"
import { runTest, uniqueId } from "./helpers.js"

describe("the Promise facade", () => {
  it("has the same names and results as the Effect API", async () => {
    const id = uniqueId("facade")
    const published = await testInstance.room(id).publish({ type: "task.created", data: { taskId: "t1" }, idempotencyKey: "k" })
    expect(published.duplicate).toBe(false)
    const viaEffect = await runTest(Realtime.room(id).history().pipe(Effect.provide(testInstance.layer)))
    expect(viaEffect.messages).toEqual([published.message])
    const viaPromise = await testInstance.room(id).history()
    expect(viaPromise).toEqual(viaEffect)
  })

  it("rejects with the same tagged error instances", async () => {
    const room = testInstance.room(uniqueId("facade-errors"))
    await expect(room.publish({ type: "" })).rejects.toBeInstanceOf(InvalidInput)
    await room.destroy()
    const rejection = await room.publish({ type: "x" }).catch((error: unknown) => error)
    expect(rejection).toBeInstanceOf(RoomDestroyed)
    expect((rejection as RoomDestroyed)._tag).toBe("RoomDestroyed")
  })

  it("attributes writes to the ambient request's identity (the instance's identify), unless an actor is passed", async () => {
    const room = headerIdentityInstance.room(uniqueId("facade-actor"))
    const request = new Request("http://local/", { headers: { "x-edge-user": "user_42", "x-edge-name": "Ada" } })
    const fromHeaders = await headerIdentityInstance.withRequest(request, () => room.publish({ type: "a" }))
    expect(fromHeaders.message.actor).toEqual({ type: "user", id: "user_42", name: "Ada" })
    const explicit = await headerIdentityInstance.withRequest(request, () => room.publish({ type: "b", actor: { type: "service", id: "cron" } }))
    expect(explicit.message.actor).toEqual({ type: "service", id: "cron" })
    const anonymous = await room.publish({ type: "c" })
    expect(anonymous.message.actor).toEqual({ type: "anonymous", id: "anonymous" })
  })

  it("Realtime.stats() and Realtime.channel accessors work through the layer", async () => {
    const channelId = uniqueId("facade-channel")
    const result = await testInstance.run(
      Effect.gen(function* () {
        yield* Realtime.channel(channelId).publish({ type: "deploy" })
        return yield* Realtime.channel(channelId).stats()
      }),
    )
    expect(result.messages).toBe(1)
  })
})
