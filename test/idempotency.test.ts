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

  it("by default a retry that rebuilt its payload (a fresh timestamp) still gets the original message, marked duplicate", async () => {
    const channel = service().channel(uniqueId("idem-retry"))
    const first = await runTest(channel.broadcast({ type: "feed.event", data: { eventId: "evt_1", receivedAt: "2026-11-30T12:00:00.000Z" }, idempotencyKey: "evt_1" }))
    for (const retry of [
      { type: "feed.event", data: { eventId: "evt_1", receivedAt: "2026-11-30T12:00:01.000Z" } },
      { type: "feed.other", data: { n: 2 } },
      { type: "feed.event", data: { eventId: "evt_1" }, metadata: { source: "retry" } },
    ]) {
      const again = await runTest(channel.broadcast({ ...retry, idempotencyKey: "evt_1" }))
      expect(again.duplicate).toBe(true)
      expect(again.delivered).toBe(0)
      expect(again.message).toEqual(first.message)
    }
    expect((await runTest(channel.history())).messages).toEqual([first.message])
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

describe('idempotency: "strict" (opt-in): the same key on a different payload is a client bug', () => {
  it("the same key on a different message is an IdempotencyConflict and stores nothing", async () => {
    const room = service("strict").room(uniqueId("idem-conflict"))
    const first = await runTest(room.publish({ type: "task.created", data: { n: 1 }, idempotencyKey: "k" }))
    for (const other of [{ type: "task.created", data: { n: 2 } }, { type: "task.deleted", data: { n: 1 } }, { type: "task.created", data: { n: 1 }, metadata: { a: 1 } }]) {
      const error = failureOf(await runExit(room.publish({ ...other, idempotencyKey: "k" })))
      expect(error._tag).toBe("IdempotencyConflict")
      expect(error.message).toContain(first.message.id)
    }
    const page = await runTest(room.history())
    expect(page.messages).toEqual([first.message])
  })

  it("a strict retry with the same payload is still a duplicate", async () => {
    const room = service("strict").room(uniqueId("idem-strict-retry"))
    const first = await runTest(room.publish({ type: "task.created", data: { n: 1 }, idempotencyKey: "k" }))
    const retry = await runTest(room.publish({ type: "task.created", data: { n: 1 }, idempotencyKey: "k" }))
    expect(retry).toEqual({ message: first.message, duplicate: true })
  })
})
