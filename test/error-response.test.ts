/**
 * One renderer for typed errors (`toResponse`, beside the errors in src/RealtimeError.ts): the
 * status `httpStatus` decides and a JSON body a client decodes back into the same error.
 */
import { Schema } from "effect"
import { describe, expect, it } from "vitest"
import { Forbidden, InvalidInput, isRealtimeError, LimitExceeded, RealtimeError, RoomDestroyed, StorageFailure, toResponse, Unauthorized } from "../src/index.js"

describe("toResponse", () => {
  it("answers each typed error with its status and a body that decodes back to the same error", async () => {
    const cases: ReadonlyArray<readonly [RealtimeError, number]> = [
      [new InvalidInput({ field: "body", message: "body: must be JSON" }), 400],
      [new Unauthorized({ reason: "expired", message: "grant expired" }), 401],
      [new Forbidden({ message: "no publish permission" }), 403],
      [new RoomDestroyed({ kind: "room", id: "r1", message: "room r1 was destroyed" }), 410],
      [new LimitExceeded({ limit: "rate", message: "slow down" }), 429],
      [new LimitExceeded({ limit: "connections", message: "full" }), 503],
      [new StorageFailure({ message: "disk" }), 500],
    ]
    for (const [error, status] of cases) {
      const response = toResponse(error)
      expect(response.status).toBe(status)
      expect(response.headers.get("content-type")).toContain("application/json")
      const body = (await response.json()) as { error: unknown }
      expect(Schema.decodeUnknownSync(RealtimeError)(body.error)).toEqual(error)
    }
  })

  it("keeps headers the caller adds", () => {
    const response = toResponse(new Unauthorized({ reason: "missing", message: "log in" }), { headers: { "cache-control": "no-store" } })
    expect(response.status).toBe(401)
    expect(response.headers.get("cache-control")).toBe("no-store")
  })

  it("tells the library's errors from anything else a route may catch", () => {
    expect(isRealtimeError(new InvalidInput({ field: "x", message: "x" }))).toBe(true)
    expect(isRealtimeError(new SyntaxError("Unexpected token"))).toBe(false)
    expect(isRealtimeError({ _tag: "ParseError", message: "not ours" })).toBe(false)
    expect(isRealtimeError(undefined)).toBe(false)
  })
})
