import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { failureOf, runExit, runTest, service, uniqueId } from "./helpers.js"

describe("idempotent publish", () => {
  it("a retry with the same key returns the original message, marked duplicate, and stores nothing", async () => {
    const room = service().room(uniqueId("idem"))
    const first = await runTest(room.publish({ type: "task.created", data: { n: 1 }, idempotencyKey: "client_event_123" }))
    const retry = await runTest(room.publish({ type: "task.created", data: { n: 1 }, idempotencyKey: "client_event_123" }))
    expect(first.duplicate).toBe(false)
    expect(retry.duplicate).toBe(true)
    expect(retry.message).toEqual(first.message)
    const page = await runTest(room.history())
    expect(page.messages).toHaveLength(1)
  })

  it("the same key on a different message is an IdempotencyConflict and stores nothing", async () => {
    const room = service().room(uniqueId("idem-conflict"))
    const first = await runTest(room.publish({ type: "task.created", data: { n: 1 }, idempotencyKey: "k" }))
    for (const other of [{ type: "task.created", data: { n: 2 } }, { type: "task.deleted", data: { n: 1 } }, { type: "task.created", data: { n: 1 }, metadata: { a: 1 } }]) {
      const error = failureOf(await runExit(room.publish({ ...other, idempotencyKey: "k" })))
      expect(error._tag).toBe("IdempotencyConflict")
      expect(error.message).toContain(first.message.id)
    }
    const page = await runTest(room.history())
    expect(page.messages).toEqual([first.message])
  })

  it("50 concurrent retries store exactly one message and all return it", async () => {
    const room = service().room(uniqueId("idem-race"))
    const results = await runTest(
      Effect.all(
        Array.from({ length: 50 }, () => room.publish({ type: "order.placed", data: { order: 7 }, idempotencyKey: "order-7" })),
        { concurrency: "unbounded" },
      ),
    )
    const ids = new Set(results.map((result) => result.message.id))
    expect(ids.size).toBe(1)
    expect(results.filter((result) => !result.duplicate)).toHaveLength(1)
    const page = await runTest(room.history({ limit: 100 }))
    expect(page.messages).toHaveLength(1)
  })

  it("different keys are different messages, and broadcast honours keys too", async () => {
    const channel = service().channel(uniqueId("idem-channel"))
    await runTest(channel.publish({ type: "a", idempotencyKey: "k1" }))
    await runTest(channel.publish({ type: "a", idempotencyKey: "k2" }))
    const again = await runTest(channel.broadcast({ type: "a", idempotencyKey: "k2" }))
    expect(again.duplicate).toBe(true)
    expect(again.delivered).toBe(0)
    const stats = await runTest(channel.stats())
    expect(stats.messages).toBe(2)
  })
})
