/**
 * The compiled `ClientFrame` decoder (src/schema/CompiledDecoder.ts) against the Schema it is
 * compiled from: on generated frames, mutated frames and hostile values both accept the same
 * inputs, and what the compiled one accepts is exactly the Schema's result (same fields, same
 * key order). A frame the compiled decoder refuses goes to the Schema, so the error a client gets
 * is the Schema's (sockets.test.ts, bad-input.test.ts).
 */
import { Arbitrary, Either, FastCheck as fc, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { decodeClientFrameCompiled, decodeClientFrameNow } from "../src/schema/ClientFrameDecoder.js"
import { compileDecoder, UNDECIDED } from "../src/schema/CompiledDecoder.js"
import { Actor, JsonValue } from "../src/schema/Common.js"
import { ClientFrame } from "../src/schema/Protocol.js"

const viaSchema = Schema.decodeUnknownEither(ClientFrame)

/**
 * The Schema and each fast decoder (the socket's, with its hand-read broadcast, and the one
 * compiled from the whole union) on one input: all refuse, or all accept with the same value.
 */
const agree = (input: unknown): "accepted" | "refused" => {
  const expected = viaSchema(input)
  for (const decode of [decodeClientFrameNow, decodeClientFrameCompiled]) {
    const actual = decode(input)
    if (expected._tag === "Left") {
      expect(actual).toBe(UNDECIDED)
      continue
    }
    expect(actual).not.toBe(UNDECIDED)
    expect(actual).toStrictEqual(expected.right)
    expect(JSON.stringify(actual)).toBe(JSON.stringify(expected.right))
  }
  return expected._tag === "Left" ? "refused" : "accepted"
}

/** A socket frame as the server receives it: JSON text, parsed. */
const parsed = (value: unknown): unknown => JSON.parse(JSON.stringify(value) ?? "null")

const deep = (levels: number): unknown => {
  let value: unknown = 1
  for (let level = 0; level < levels; level++) value = { a: value }
  return value
}

const hostileValue = fc.oneof(
  fc.jsonValue(),
  fc.constantFrom(null, undefined, Number.NaN, Number.POSITIVE_INFINITY, -0, "", "x".repeat(129), "a\u0000b", "a\u2028b", [], {}, true),
  fc.constantFrom(deep(63), deep(64), deep(66), JSON.parse('{"__proto__":{"x":1}}'), JSON.parse('{"constructor":1}'), JSON.parse('[{"prototype":2}]'), JSON.parse("1e400")),
  fc.anything(),
)

/** Replace, drop or add one field somewhere in a frame (often making it invalid, sometimes not). */
const mutated = fc
  .tuple(Arbitrary.make(ClientFrame), fc.nat(), hostileValue, fc.constantFrom("type", "id", "event", "message", "data", "metadata", "includeSelf", "presence", "idempotencyKey", "__proto__", "extra"))
  .map(([frame, choice, value, key]) => {
    const copy = parsed(frame) as Record<string, unknown>
    const inner = (copy.event ?? copy.message ?? copy) as Record<string, unknown>
    const target = choice % 2 === 0 ? copy : inner
    if (choice % 3 === 0) delete target[key]
    else Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true })
    return choice % 5 === 0 ? target : copy
  })

describe("compiled ClientFrame decoder", () => {
  it("accepts every generated frame exactly as the Schema decodes it", () => {
    let accepted = 0
    for (const frame of fc.sample(Arbitrary.make(ClientFrame), 400)) if (agree(parsed(frame)) === "accepted") accepted++
    // Generated frames are valid: all of them take the compiled path.
    expect(accepted).toBe(400)
  })

  it("agrees with the Schema on mutated frames and hostile values (__proto__, deep, huge, wrong types)", () => {
    const outcomes = { accepted: 0, refused: 0 }
    for (const input of fc.sample(mutated, 1500)) outcomes[agree(input)]++
    for (const input of fc.sample(hostileValue, 300)) outcomes[agree(input)]++
    // Both kinds occur, so agreement was checked on each side.
    expect(outcomes.accepted).toBeGreaterThan(100)
    expect(outcomes.refused).toBeGreaterThan(100)
  })

  it("agrees on the edges of each field's rules", () => {
    const data = [null, 0, "s", [1, { b: [] }], { fseq: 1, t: 2, p: "x" }, deep(62), deep(64), JSON.parse('{"a":{"__proto__":1}}'), JSON.parse("[1e400]")]
    const types = ["b", "", "x".repeat(128), "x".repeat(129), "a\nb", "a\u007fb", "é", 7, null]
    const ids = [undefined, "", "i", "x".repeat(128), "x".repeat(129), 3]
    const cases: Array<unknown> = []
    for (const type of types) for (const id of ids) cases.push({ type: "broadcast", ...(id === undefined ? {} : { id }), event: { type, data: data[cases.length % data.length] } })
    for (const value of data) {
      cases.push({ type: "publish", message: { type: "m", data: value, metadata: { k: value }, idempotencyKey: "k" } })
      cases.push({ type: "publish", message: { type: "m", metadata: value } })
      cases.push({ type: "presence", presence: value })
      cases.push({ type: "broadcast", event: { type: "e", data: value }, includeSelf: value })
      cases.push({ type: "send", event: { type: "s", data: value } })
    }
    cases.push({ type: "publish", message: { type: "m", idempotencyKey: "" } }, { type: "ping" }, { type: "ping", id: "" }, { type: "nope" }, { type: ["ping"] }, [{ type: "ping" }], "ping")
    cases.push({ type: "broadcast", event: { type: "e" }, extra: { deep: deep(200) } }, { type: "broadcast", event: null }, { type: "publish", message: [] })
    cases.push({ type: "broadcast" }, { type: "publish" }, { type: "presence" }, { type: "send" }, { type: "broadcast", event: {} })
    const outcomes = cases.map((input) => agree(parsed(input)))
    expect(outcomes.filter((outcome) => outcome === "accepted").length).toBeGreaterThan(30)
    expect(outcomes.filter((outcome) => outcome === "refused").length).toBeGreaterThan(30)
  })

  it("leaves to the Schema what it cannot compile, and follows refinements and literal unions it can", () => {
    const actor = compileDecoder(Actor)
    expect(actor({ type: "user", id: "u", extra: 1 })).toStrictEqual({ type: "user", id: "u" })
    expect(actor({ type: "robot", id: "u" })).toBe(UNDECIDED)
    expect(actor({ type: "user", id: "" })).toBe(UNDECIDED)
    // A record (an index signature) is not compiled: every input is the Schema's to decide.
    const record = compileDecoder(Schema.Record({ key: Schema.String, value: Schema.Number }))
    expect(record({ a: 1 })).toBe(UNDECIDED)
    // A named filter runs as the predicate given for it (here one that refuses everything).
    const refusing = compileDecoder(Schema.Struct({ data: JsonValue }), { filters: new Map([[JsonValue.ast, () => false]]) })
    expect(refusing({ data: 1 })).toBe(UNDECIDED)
    expect(compileDecoder(Schema.Struct({ data: JsonValue }))({ data: 1 })).toStrictEqual({ data: 1 })
  })

  it("follows a struct transformation's renames and defaults as the parser does", () => {
    const Renamed = Schema.Struct({
      a: Schema.propertySignature(Schema.String).pipe(Schema.fromKey("b")),
      n: Schema.optionalWith(Schema.NumberFromString, { default: () => 0 }),
      c: Schema.optionalWith(Schema.String.pipe(Schema.minLength(2)), { default: () => "xx" }),
    })
    const viaRenamed = Schema.decodeUnknownEither(Renamed)
    const compiledRenamed = compileDecoder(Renamed)
    const inputs: Array<unknown> = [{ b: "s" }, { a: "s" }, { b: "s", a: "t" }, { b: "s", n: "3" }, { b: "s", c: "yy" }, { b: "s", c: "y" }, { b: 1 }, {}, { b: "s", c: undefined }]
    let accepted = 0
    for (const input of inputs) {
      const expected = viaRenamed(input)
      const actual = compiledRenamed(input)
      if (actual !== UNDECIDED) accepted++
      // NumberFromString is not compiled: any input carrying `n` is the Schema's to decide.
      if (actual !== UNDECIDED) expect(Either.getOrThrow(expected)).toStrictEqual(actual)
      else if (!Object.hasOwn(input as object, "n")) expect(expected._tag).toBe("Left")
    }
    expect(accepted).toBe(4)
  })
})
