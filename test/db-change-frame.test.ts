/**
 * A change's frame (`db/hub/Changes.ts`) keeps the last commit time's ISO text, so the changes of a
 * batch format it once: every frame must still carry its own change's time, whatever order times
 * come in (repeats, going back, interleaved).
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { changeFrame } from "../src/db/hub/Changes.js"
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
})
