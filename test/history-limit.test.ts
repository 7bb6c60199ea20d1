import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { runTest, service, uniqueId } from "./helpers.js"

// The "test" instance keeps historyLimit: 20.
describe("historyLimit pruning", () => {
  it("keeps only the newest historyLimit messages, in both directions", async () => {
    const room = service("test").room(uniqueId("prune"))
    await runTest(Effect.forEach(Array.from({ length: 53 }, (_, i) => i + 1), (i) => room.publish({ type: "n", data: i })))
    const newest = await runTest(room.history({ limit: 100 }))
    expect(newest.messages.map((m) => m.seq)).toEqual(Array.from({ length: 20 }, (_, i) => 53 - i))
    expect(newest.nextCursor).toBeNull()
    const oldest = await runTest(room.history({ limit: 5, direction: "forward" }))
    expect(oldest.messages.map((m) => m.seq)).toEqual([34, 35, 36, 37, 38])
  })

  it("physically deletes pruned rows", async () => {
    const channel = service("test").channel(uniqueId("prune-rows"))
    await runTest(Effect.forEach(Array.from({ length: 60 }, (_, i) => i), (i) => channel.publish({ type: "n", data: i })))
    const stats = await runTest(channel.stats())
    expect(stats.messages).toBe(20)
    expect(stats.lastSeq).toBe(60)
  })
})
