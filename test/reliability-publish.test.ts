/**
 * Reliability of publish under restarts and races (docs/RELIABILITY.md clauses R1–R3).
 */
import { abortAllDurableObjects } from "cloudflare:test"
import { Effect, Exit } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import type { StoredMessage } from "../src/schema/Message.js"
import { runTest, service, uniqueId } from "./helpers.js"

const ROUNDS = 25
const PER_ROUND = 8

describe("R1–R3: publish survives object restarts at random points", () => {
  it(`${ROUNDS} restarts during concurrent publishing: nothing acknowledged is lost, nothing is stored twice, no sequence gap`, async () => {
    const room = service("other").room(uniqueId("faults"))
    const acknowledged = new Map<string, StoredMessage>()
    let restarts = 0
    let failedCalls = 0
    const publishUntilAcknowledged = async (key: string) => {
      // A client that did not get an answer retries with the same idempotency key.
      for (let attempt = 0; attempt < 20; attempt++) {
        const exit = await Effect.runPromiseExit(room.publish({ type: "event", data: { key }, idempotencyKey: key }))
        if (Exit.isSuccess(exit)) {
          const earlier = acknowledged.get(key)
          if (earlier !== undefined) expect(exit.value.message).toEqual(earlier)
          acknowledged.set(key, exit.value.message)
          return
        }
        failedCalls++
      }
      throw new Error(`publish of ${key} never succeeded`)
    }
    for (let round = 0; round < ROUNDS; round++) {
      const keys = Array.from({ length: PER_ROUND }, (_, i) => `r${round}-${i}`)
      const inFlight = Promise.all(keys.map(publishUntilAcknowledged))
      await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 4)))
      await abortAllDurableObjects()
      restarts++
      await inFlight
    }
    const stored: Array<StoredMessage> = []
    let cursor: string | null = null
    do {
      const page: { messages: ReadonlyArray<StoredMessage>; nextCursor: string | null } = await runTest(
        room.history({ limit: 100, cursor, direction: "forward" }),
      )
      stored.push(...page.messages)
      cursor = page.nextCursor
    } while (cursor !== null)

    const lost = [...acknowledged.values()].filter((message) => !stored.some((s) => s.id === message.id && s.seq === message.seq))
    const keys = stored.map((message) => message.idempotencyKey)
    const duplicates = keys.length - new Set(keys).size
    const gaps = stored.filter((message, i) => message.seq !== i + 1).length
    console.log(`R1-R3 figures: restarts=${restarts} acknowledged=${acknowledged.size} failedCalls=${failedCalls} lost=${lost.length} duplicates=${duplicates} gaps=${gaps}`)
    expect(restarts).toBeGreaterThanOrEqual(25)
    expect(acknowledged.size).toBe(ROUNDS * PER_ROUND)
    expect(lost).toEqual([])
    expect(duplicates).toBe(0)
    expect(gaps).toBe(0)
    expect(stored).toHaveLength(ROUNDS * PER_ROUND)
  })
})

describe("R1: idempotency under scheduled interleavings (fast-check)", () => {
  it("any interleaving of concurrent publishes with repeated keys stores each key once, and every caller gets that message", async () => {
    let runs = 0
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom("a", "b", "c", "d", "e"), { minLength: 2, maxLength: 12 }),
        fc.scheduler(),
        async (keys, scheduler) => {
          runs++
          const room = service("other").room(uniqueId("race"))
          const publish = scheduler.scheduleFunction((key: string) =>
            Effect.runPromise(room.publish({ type: "k", data: { key }, idempotencyKey: key })),
          )
          const results = Promise.all(keys.map((key) => publish(key)))
          await scheduler.waitAll()
          const answers = await results
          const page = await runTest(room.history({ limit: 100, direction: "forward" }))
          const unique = [...new Set(keys)]
          expect(page.messages.map((m) => m.idempotencyKey).sort()).toEqual(unique.sort())
          expect(page.messages.map((m) => m.seq)).toEqual(unique.map((_, i) => i + 1))
          for (const [i, key] of keys.entries()) {
            expect(answers[i].message).toEqual(page.messages.find((m) => m.idempotencyKey === key))
          }
          expect(answers.filter((answer) => !answer.duplicate)).toHaveLength(unique.length)
        },
      ),
      { numRuns: 40 },
    )
    console.log(`R1 race figures: runs=${runs} violations=0`)
    expect(runs).toBe(40)
  })
})
