import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { runTest, service, uniqueId } from "./helpers.js"

describe("publish and history", () => {
  it("stores a message with id, seq, type, data, actor and createdAt", async () => {
    const rt = service()
    const room = rt.room(uniqueId("room"))
    const { message, duplicate } = await runTest(
      room.publish({ type: "task.created", data: { taskId: "task_123" }, metadata: { source: "test" }, actor: { type: "service", id: "importer" } }),
    )
    expect(duplicate).toBe(false)
    expect(message).toMatchObject({ seq: 1, type: "task.created", data: { taskId: "task_123" }, metadata: { source: "test" }, actor: { type: "service", id: "importer" } })
    expect(message.id).toMatch(/^msg_/)
    expect(Date.parse(message.createdAt)).toBeGreaterThan(0)
    const page = await runTest(room.history())
    expect(page.messages.map((m) => m.id)).toEqual([message.id])
  })

  it("pages 1,000 messages in both directions while appends run concurrently, never skipping or repeating", async () => {
    // "other" keeps the default historyLimit of 1,000.
    const rt = service("other")
    const room = rt.room(uniqueId("paging"))
    // 300 messages first, in parallel batches.
    await runTest(Effect.forEach(Array.from({ length: 300 }, (_, i) => i), (i) => room.publish({ type: "n", data: i }), { concurrency: 25 }))
    // Page backward from the newest while 700 more are appended concurrently.
    const appends = runTest(Effect.forEach(Array.from({ length: 700 }, (_, i) => i), (i) => room.publish({ type: "late", data: i }), { concurrency: 25 }))
    const backward: Array<number> = []
    let cursor: string | null = null
    do {
      const page: { messages: ReadonlyArray<{ seq: number }>; nextCursor: string | null } = await runTest(room.history({ limit: 37, cursor }))
      backward.push(...page.messages.map((m) => m.seq))
      cursor = page.nextCursor
    } while (cursor !== null)
    await appends
    // Backward pages are strictly decreasing and end at seq 1: no skip, no repeat.
    for (let i = 1; i < backward.length; i++) expect(backward[i]).toBe(backward[i - 1] - 1)
    expect(backward[backward.length - 1]).toBe(1)

    const forward: Array<number> = []
    cursor = null
    do {
      const page: { messages: ReadonlyArray<{ seq: number }>; nextCursor: string | null } = await runTest(room.history({ limit: 100, cursor, direction: "forward" }))
      forward.push(...page.messages.map((m) => m.seq))
      cursor = page.nextCursor
    } while (cursor !== null)
    expect(forward).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1))
  })

  it("channels publish and page history the same way, and report stats", async () => {
    const rt = service()
    const channel = rt.channel(uniqueId("deployments"))
    for (let i = 0; i < 5; i++) await runTest(channel.publish({ type: "deploy.finished", data: { i } }))
    const first = await runTest(channel.history({ limit: 2 }))
    expect(first.messages.map((m) => m.data)).toEqual([{ i: 4 }, { i: 3 }])
    const second = await runTest(channel.history({ limit: 2, cursor: first.nextCursor }))
    expect(second.messages.map((m) => m.data)).toEqual([{ i: 2 }, { i: 1 }])
    const stats = await runTest(channel.stats())
    expect(stats).toMatchObject({ messages: 5, lastSeq: 5, status: "active", subscribers: 0 })
  })
})
