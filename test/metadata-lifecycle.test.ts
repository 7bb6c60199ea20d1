import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { failureOf, runExit, runTest, service, uniqueId } from "./helpers.js"

describe("room metadata", () => {
  it("sets and reads metadata with the room's identity and updatedAt", async () => {
    const id = uniqueId("meta")
    const room = service().room(id)
    const before = await runTest(room.metadata())
    expect(before).toEqual({ id, instance: "test", metadata: {}, updatedAt: null })
    const set = await runTest(room.metadata({ metadata: { title: "Launch plan", tags: ["q3"] } }))
    expect(set.metadata).toEqual({ title: "Launch plan", tags: ["q3"] })
    expect(set.updatedAt).not.toBeNull()
    const read = await runTest(room.metadata())
    expect(read).toEqual(set)
  })
})

describe("room lifecycle", () => {
  it("destroy deletes history when asked, and later writes fail with RoomDestroyed", async () => {
    const room = service().room(uniqueId("destroy"))
    await runTest(Effect.forEach([1, 2, 3], (i) => room.publish({ type: "n", data: i })))
    const result = await runTest(room.destroy({ deleteHistory: true, deleteSnapshots: true }))
    expect(result).toMatchObject({ status: "destroyed", deletedMessages: 3 })
    expect((await runTest(room.state())).status).toBe("destroyed")
    expect((await runTest(room.history())).messages).toEqual([])
    const error = failureOf(await runExit(room.publish({ type: "late" })))
    expect(error._tag).toBe("RoomDestroyed")
    expect(failureOf(await runExit(room.metadata({ metadata: { a: 1 } })))._tag).toBe("RoomDestroyed")
    expect(failureOf(await runExit(room.broadcast({ type: "late", ephemeral: true })))._tag).toBe("RoomDestroyed")
  })

  it("destroy without deleteHistory keeps history readable", async () => {
    const channel = service().channel(uniqueId("destroy-keep"))
    await runTest(channel.publish({ type: "kept" }))
    await runTest(channel.destroy())
    const page = await runTest(channel.history())
    expect(page.messages.map((m) => m.type)).toEqual(["kept"])
    expect(failureOf(await runExit(channel.publish({ type: "x" })))._tag).toBe("RoomDestroyed")
  })
})
