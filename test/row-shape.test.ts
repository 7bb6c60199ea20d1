/**
 * `checkRowShape` (every database write, in the Worker and again in the shard) takes a shortcut for
 * flat rows: it must find exactly the first problem the general walk finds (or none), for any value.
 */
import { FastCheck as fc } from "effect"
import { describe, expect, it } from "vitest"
import { checkRowShape, MAX_ROW_DEPTH, walkRowShape } from "../src/db/Guards.js"

/** Own data properties, `__proto__` included (an assignment would set the prototype instead). */
const objectOf = (entries: ReadonlyArray<readonly [string, unknown]>) => {
  const object: Record<string, unknown> = {}
  for (const [key, value] of entries) Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true })
  return object
}

const key = fc.oneof(fc.constantFrom("id", "tenantId", "title", "views", "__proto__", "constructor", "prototype", "0"), fc.string({ maxLength: 6 }))
const scalar = fc.oneof(fc.string({ maxLength: 12 }), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.constant(undefined))
const { value } = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    scalar,
    fc.array(fc.tuple(key, tie("value")), { maxLength: 5 }).map(objectOf),
    fc.array(tie("value"), { maxLength: 4 }),
  ),
}))
/** Rows as the facade sees them: mostly flat objects of scalars, some with a nested column. */
const row = fc.oneof(fc.array(fc.tuple(key, scalar), { maxLength: 8 }).map(objectOf), fc.array(fc.tuple(key, value), { maxLength: 6 }).map(objectOf), value)

/** A problem as the caller sees it: its class, field, message and sizes. */
const described = (problem: unknown) => (problem === undefined ? undefined : JSON.parse(JSON.stringify({ tag: (problem as { _tag: string })._tag, ...(problem as object) })))

describe("row shape check", () => {
  it("the flat-row shortcut finds the walk's first problem, or none, for any value and limit", () => {
    fc.assert(
      fc.property(row, fc.integer({ min: 0, max: 60 }), (candidate, maxChars) => {
        expect(described(checkRowShape(candidate, "row", maxChars))).toEqual(described(walkRowShape(candidate, "row", maxChars)))
      }),
      { numRuns: 3_000 },
    )
  })

  it("refuses a flat row's forbidden key and its oversize, and passes a row within the limit", () => {
    expect(checkRowShape(objectOf([["id", "a"], ["__proto__", 1]]), "row", 100)).toMatchObject({ _tag: "InvalidInput", field: "row.__proto__" })
    // Keys count first (2 + 5), then the values from the last: + 4 = 11, + 3 = 14 > 12.
    expect(checkRowShape({ id: "abc", title: "long" }, "row", 12)).toMatchObject({ _tag: "PayloadTooLarge", size: 14, limit: 12 })
    expect(checkRowShape({ id: "abc", title: "long" }, "row", 14)).toBeUndefined()
    const deep = Array.from({ length: MAX_ROW_DEPTH + 1 }).reduce<unknown>((inner) => ({ next: inner }), 1)
    expect(checkRowShape({ id: "a", deep }, "row", 10_000)).toMatchObject({ _tag: "InvalidInput", message: expect.stringContaining("nested deeper") })
  })
})
