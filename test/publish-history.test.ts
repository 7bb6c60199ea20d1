import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { failureOf, runExit, runTest, service, uniqueId } from "./helpers.js"

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
    let catchUp = ""
    do {
      const page: { messages: ReadonlyArray<{ seq: number }>; nextCursor: string | null; catchUpCursor: string } = await runTest(room.history({ limit: 37, cursor }))
      backward.push(...page.messages.map((m) => m.seq))
      cursor = page.nextCursor
      catchUp = page.catchUpCursor
    } while (cursor !== null)
    await appends
    // Backward pages are strictly decreasing and end at seq 1: no skip, no repeat.
    for (let i = 1; i < backward.length; i++) expect(backward[i]).toBe(backward[i - 1] - 1)
    expect(backward[backward.length - 1]).toBe(1)
    // The last backward page still knows where the first one started: catching up from it (no
    // direction given: the cursor's own) gets exactly what was appended meanwhile.
    const caughtUp: Array<number> = []
    let next: string | null = catchUp
    while (next !== null) {
      const page: { messages: ReadonlyArray<{ seq: number }>; nextCursor: string | null } = await runTest(room.history({ limit: 250, cursor: next }))
      caughtUp.push(...page.messages.map((m) => m.seq))
      next = page.nextCursor
    }
    expect([...backward, ...caughtUp].sort((a, b) => a - b)).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1))

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

describe("catch-up from a cursor (seed 001: a dashboard reconnects and continues from the previous page's cursor)", () => {
  it("read forward to the end, publish 3, continue from the returned cursor: exactly those 3", async () => {
    const channel = service("other").channel(uniqueId("catch-up"))
    for (let i = 0; i < 7; i++) await runTest(channel.publish({ type: "n", data: i }))
    let page = await runTest(channel.history({ limit: 3, direction: "forward" }))
    let cursor = page.catchUpCursor
    while (page.nextCursor !== null) {
      expect(page.catchUpCursor).toBe(page.nextCursor)
      page = await runTest(channel.history({ limit: 3, cursor: page.nextCursor }))
      cursor = page.catchUpCursor
    }
    expect(page.messages.map((m) => m.data)).toEqual([6])
    // At the head: nothing more now, and the cursor still leads on.
    const empty = await runTest(channel.history({ cursor }))
    expect(empty).toMatchObject({ messages: [], nextCursor: null, catchUpCursor: cursor })
    for (let i = 7; i < 10; i++) await runTest(channel.publish({ type: "n", data: i }))
    const after = await runTest(channel.history({ limit: 100, cursor }))
    expect(after.messages.map((m) => m.data)).toEqual([7, 8, 9])
    expect(after.nextCursor).toBeNull()
    expect((await runTest(channel.history({ cursor: after.catchUpCursor }))).messages).toEqual([])
  })

  it("a newest-first page gives catchUpCursor: later messages, oldest first, none repeated", async () => {
    const room = service("other").room(uniqueId("catch-up-backward"))
    for (let i = 0; i < 5; i++) await runTest(room.publish({ type: "n", data: i }))
    const newest = await runTest(room.history({ limit: 2 }))
    expect(newest.messages.map((m) => m.data)).toEqual([4, 3])
    const older = await runTest(room.history({ limit: 2, cursor: newest.nextCursor }))
    expect(older.messages.map((m) => m.data)).toEqual([2, 1])
    // Both pages of one read name the same place to catch up from: after the newest message seen.
    expect(older.catchUpCursor).toBe(newest.catchUpCursor)
    for (let i = 5; i < 8; i++) await runTest(room.publish({ type: "n", data: i }))
    const caughtUp = await runTest(room.history({ cursor: newest.catchUpCursor }))
    expect(caughtUp.messages.map((m) => m.data)).toEqual([5, 6, 7])
    // An explicit direction that contradicts the cursor is refused, naming the cursor.
    const error = await runExit(room.history({ cursor: newest.catchUpCursor, direction: "backward" }))
    expect(failureOf(error)).toMatchObject({ _tag: "InvalidInput", field: "cursor" })
  })

  it("an empty room's page can be caught up from too", async () => {
    const channel = service("other").channel(uniqueId("catch-up-empty"))
    const page = await runTest(channel.history())
    expect(page).toMatchObject({ messages: [], nextCursor: null })
    await runTest(channel.publish({ type: "first" }))
    expect((await runTest(channel.history({ cursor: page.catchUpCursor }))).messages.map((m) => m.type)).toEqual(["first"])
  })
})
