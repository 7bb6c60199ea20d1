/**
 * The compiled `ClientFrame` decoder (src/schema/CompiledDecoder.ts) against the Schema it is
 * compiled from: on generated frames, mutated frames and hostile values both accept the same
 * inputs, and what the compiled one accepts is exactly the Schema's result (same fields, same
 * key order). A frame the compiled decoder refuses goes to the Schema, so the error a client gets
 * is the Schema's (sockets.test.ts, bad-input.test.ts).
 */
import { Arbitrary, Either, FastCheck as fc, Schema } from "effect"
import { boolean, integer, json, real, text, timestamp } from "../src/db/Columns.js"
import { insertSchema, patchSchema, table } from "../src/db/Table.js"
import { WriteBatch } from "../src/db/Writes.js"
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
    // A record keyed by a template literal is not compiled: every input is the Schema's to decide.
    const record = compileDecoder(Schema.Record({ key: Schema.TemplateLiteral("k", Schema.String), value: Schema.Number }))
    expect(record({ ka: 1 })).toBe(UNDECIDED)
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

/** One Schema and its compiled decoder on one input: both refuse, or both accept with the same value and key order. */
const agreesWith = <A, I>(schema: Schema.Schema<A, I, never>) => {
  const expectedOf = Schema.decodeUnknownEither(schema)
  const compiled = compileDecoder(schema)
  return (input: unknown): "accepted" | "refused" | "undecided" => {
    const expected = expectedOf(input)
    const actual = compiled(input)
    if (expected._tag === "Left") {
      expect(actual).toBe(UNDECIDED)
      return "refused"
    }
    // A record key `__proto__` is the one thing left to the Schema that it accepts; anything else it accepts must compile.
    if (actual === UNDECIDED && hasProtoKey(input)) return "undecided"
    expect(actual).not.toBe(UNDECIDED)
    expect(actual).toStrictEqual(expected.right)
    expect(JSON.stringify(actual)).toBe(JSON.stringify(expected.right))
    if (actual !== null && typeof actual === "object") expect(Reflect.ownKeys(actual)).toStrictEqual(Reflect.ownKeys(expected.right as object))
    return "accepted"
  }
}

const hasProtoKey = (value: unknown): boolean => containers(value).some((container) => Object.hasOwn(container, "__proto__"))

/** Every object and array inside a value (the value first). */
const containers = (value: unknown, found: Array<Record<string, unknown> | Array<unknown>> = [], depth = 0): typeof found => {
  if (value === null || typeof value !== "object" || depth > 8) return found
  found.push(value as Record<string, unknown>)
  for (const inner of Object.values(value)) containers(inner, found, depth + 1)
  return found
}

/** Replace, drop or add one element or field somewhere inside a value (often making it invalid, sometimes not). */
const mutatedOf = <A, I>(schema: Schema.Schema<A, I, never>, keys: ReadonlyArray<string>) =>
  fc.tuple(Arbitrary.make(schema), fc.nat(), hostileValue, fc.constantFrom(...keys, "__proto__", "extra", "0", "length")).map(([value, choice, hostile, key]) => {
    const copy = parsed(Schema.encodeSync(schema)(value))
    const all = containers(copy)
    if (all.length === 0) return choice % 2 === 0 ? hostile : copy
    const target = all[choice % all.length]
    if (Array.isArray(target)) {
      if (choice % 3 === 0) target.pop()
      else if (choice % 3 === 1) target.push(hostile)
      else if (target.length > 0) target[choice % target.length] = hostile
      else delete (target as unknown as Record<number, unknown>)[5]
    } else if (choice % 3 === 0) delete target[key]
    else Object.defineProperty(target, key, { value: hostile, enumerable: true, writable: true, configurable: true })
    return copy
  })

const kinds = table({
  id: text().primaryKey(),
  tenantId: text().notNull(),
  count: integer().notNull().default(0),
  score: real(),
  done: boolean(),
  data: json(),
  at: timestamp(),
})

/** Arrays, tuples, records, ordered unions and `onExcessProperty: "error"`, each with its own keys to mutate. */
const collections: ReadonlyArray<readonly [string, Schema.Schema<any, any, never>, ReadonlyArray<string>]> = [
  ["WriteBatch (the shard's write payload)", WriteBatch, ["writes", "requestId", "op", "table", "row", "where", "patch"]],
  ["a table's insert Schema (excess keys refused)", insertSchema(kinds), Object.keys(kinds.columns)],
  ["a table's patch Schema", patchSchema(kinds), Object.keys(kinds.columns)],
  ["array of numbers", Schema.Array(Schema.Number), []],
  ["non-empty array of NullOr(string)", Schema.NonEmptyArray(Schema.NullOr(Schema.String)), []],
  ["tuple with an optional element", Schema.Tuple(Schema.String, Schema.optionalElement(Schema.Number)), []],
  ["tuple with a rest element", Schema.Tuple([Schema.Literal("a", "b")], Schema.Boolean), []],
  ["record of NullOr(number)", Schema.Record({ key: Schema.String, value: Schema.NullOr(Schema.Number) }), ["a", "b"]],
  ["struct with a record beside its fields", Schema.Struct({ a: Schema.String }, { key: Schema.String, value: Schema.Union(Schema.String, Schema.Number) }), ["a", "b"]],
  ["NullOr(struct) of string | number | array", Schema.NullOr(Schema.Struct({ v: Schema.Union(Schema.String, Schema.Number, Schema.Array(Schema.String)) })), ["v"]],
  [
    "nested structs under onExcessProperty: error",
    Schema.Struct({ outer: Schema.Struct({ inner: Schema.optional(Schema.Number) }), list: Schema.Array(Schema.Struct({ k: Schema.String })) }).annotations({ parseOptions: { onExcessProperty: "error" } }),
    ["outer", "inner", "list", "k"],
  ],
]

describe("compiled decoder: arrays, tuples, records", () => {
  for (const [name, schema, keys] of collections) {
    it(`agrees with the Schema on generated, mutated and hostile values: ${name}`, () => {
      const agree = agreesWith(schema)
      const outcomes = { accepted: 0, refused: 0, undecided: 0 }
      for (const value of fc.sample(Arbitrary.make(schema), 150)) outcomes[agree(parsed(Schema.encodeSync(schema)(value)))]++
      for (const input of fc.sample(mutatedOf(schema, keys), 400)) outcomes[agree(input)]++
      for (const input of fc.sample(hostileValue, 100)) outcomes[agree(input)]++
      expect(outcomes.accepted).toBeGreaterThan(100)
      expect(outcomes.refused).toBeGreaterThan(20)
    })
  }

  it("agrees on the edges: __proto__ and symbol keys, holes, huge and deep arrays, batch bounds", () => {
    const batch = agreesWith(WriteBatch)
    const insert = agreesWith(insertSchema(kinds))
    const record = agreesWith(Schema.Record({ key: Schema.String, value: Schema.Unknown }))
    const strict = agreesWith(Schema.Struct({ a: Schema.Number }).annotations({ parseOptions: { onExcessProperty: "error" } }))
    const write = { op: "insert", table: "t", row: { id: "x" } }
    const sparse: Array<unknown> = [write]
    sparse[2] = write
    const cases: Array<[(input: unknown) => string, unknown, "accepted" | "refused" | "undecided"]> = [
      [batch, { writes: [write] }, "accepted"],
      [batch, { writes: [] }, "refused"],
      [batch, { writes: Array.from({ length: 100 }, () => write), requestId: "r" }, "accepted"],
      [batch, { writes: Array.from({ length: 101 }, () => write) }, "refused"],
      [batch, { writes: sparse }, "refused"],
      [batch, { writes: [{ op: "update", table: "t", where: JSON.parse('{"__proto__":{"id":1}}'), patch: {} }] }, "undecided"],
      [batch, { writes: [{ op: "delete", table: "t", where: { id: 1, shard: [deep(70)] } }], requestId: "x".repeat(128) }, "accepted"],
      [batch, { writes: [write], requestId: "" }, "refused"],
      [insert, { id: "a", tenantId: "t", data: deep(10) }, "accepted"],
      [insert, { id: "a", tenantId: "t", extra: 1 }, "refused"],
      [insert, { id: "a", tenantId: "t", [Symbol.for("s")]: 1 }, "refused"],
      [insert, { id: "a", tenantId: "t", score: null, count: 1.5 }, "refused"],
      [insert, { id: "a", tenantId: null }, "refused"],
      [record, JSON.parse('{"a":1,"__proto__":{"polluted":true}}'), "undecided"],
      [record, Object.fromEntries(Array.from({ length: 10_000 }, (_, index) => [`k${index}`, index])), "accepted"],
      [strict, Object.defineProperty({ a: 1 }, "hidden", { value: 2, enumerable: false }), "refused"],
    ]
    for (const [agree, input, outcome] of cases) expect(agree(input)).toBe(outcome)
  })
})
