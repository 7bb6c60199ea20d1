/**
 * A change's frame (`db/hub/Changes.ts`) keeps the last commit time's ISO text, so the changes of a
 * batch format it once: every frame must still carry its own change's time, whatever order times
 * come in (repeats, going back, interleaved).
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { changeFrame } from "../src/db/hub/Changes.js"
import { isoTime } from "../src/internal/IsoTime.js"
import type { ShardChange } from "../src/db/Protocol.js"
import { testDb } from "./db-helpers.js"

const change = (createdAt: number): ShardChange => ({ shard: 0, outboxId: 1, table: "posts", event: "insert", old: null, new: { id: "p1" }, requestId: "r", createdAt })

describe("a change's frame", () => {
  it("carries its own change's time as ISO text, for any sequence of times", () => {
    // Up to year 9999 (the 24-character form); a few values so that repeats and returns are common.
    const time = fc.oneof(fc.integer({ min: 0, max: 253_402_300_799_999 }), fc.constantFrom(0, 1, 1_764_550_000_000, 1_764_550_000_001))
    fc.assert(
      fc.property(fc.array(time, { minLength: 1, maxLength: 30 }), (times) => {
        for (const at of times) expect(changeFrame(testDb.definition, change(at), 1, { event: "insert" }).createdAt).toBe(new Date(at).toISOString())
      }),
      { numRuns: 300 },
    )
  })

  it("writes a time as toISOString does, within a minute, across minutes and at Date's edges", () => {
    const edge = fc.constantFrom(0, -0, -1, 59_999, 60_000, 60_001, -60_000, -60_001, 8.64e15, -8.64e15, 8.64e15 + 1, -8.64e15 - 1, 253_402_300_799_999, 253_402_300_800_000, 1.5, -1.5, Number.NaN, Number.POSITIVE_INFINITY)
    // Runs of nearby times (the common case: one minute's writes), far jumps, and the edges above.
    const time = fc.oneof(fc.integer({ min: -8.64e15, max: 8.64e15 }), fc.integer({ min: 1_764_550_000_000, max: 1_764_550_200_000 }), edge)
    const formatted = (format: (at: number) => string, at: number) => {
      try {
        return format(at)
      } catch (error) {
        return `throws ${(error as Error).name}`
      }
    }
    // Within the last valid minute, then past Date's end (the minute's text must not answer for it).
    for (const at of [8.64e15, 8.64e15 + 1, 8.64e15 - 60_000, 8.64e15 - 1, 8.64e15 + 2]) expect(formatted(isoTime, at)).toBe(formatted((t) => new Date(t).toISOString(), at))
    fc.assert(
      fc.property(fc.array(time, { minLength: 1, maxLength: 40 }), (times) => {
        for (const at of times) expect(formatted(isoTime, at)).toBe(formatted((t) => new Date(t).toISOString(), at))
      }),
      { numRuns: 500 },
    )
  })
})
