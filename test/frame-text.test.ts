/**
 * Broadcast and publish frames read from their text (src/schema/FrameText.ts) against the ordinary
 * path they stand in for: every frame the scan accepts is one the `ClientFrame` Schema accepts with
 * the same value, its data's text is exactly `JSON.stringify` of the parsed data (what the row
 * stores), and a broadcast's `event` frame is byte for byte the one the parsed frame gives;
 * everything it declines is left to that path.
 */
import { Either, FastCheck as fc, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { BroadcastText, PublishText, scanBroadcast, scanHotFrame, scanPublish } from "../src/schema/FrameText.js"
import { ClientFrame } from "../src/schema/Protocol.js"
import { broadcastEventFrame, broadcastEventFrameOfJson } from "../src/schema/ServerFrames.js"

const viaSchema = Schema.decodeUnknownEither(ClientFrame)
const actor = { type: "user" as const, id: "u1", name: "Ada" }
const at = "2026-11-30T20:00:00.123Z"

/** What the scan gives for `text` holds against the Schema and the old encoding; returns whether it accepted. */
const holds = (text: string): boolean => {
  const scanned = scanHotFrame(text)
  if (scanned === undefined) return false
  const parsed = viaSchema(JSON.parse(text))
  expect(Either.isRight(parsed)).toBe(true)
  const expected = Either.getOrThrow(parsed)
  expect(scanned.decoded()).toStrictEqual(expected)
  expect(JSON.stringify(scanned.decoded())).toBe(JSON.stringify(expected))
  expect(JSON.stringify(JSON.parse(scanned.dataJson))).toBe(scanned.dataJson)
  if (scanned instanceof PublishText) {
    if (expected.type !== "publish") throw new Error("not a publish")
    expect(scanned.dataJson).toBe(JSON.stringify(expected.message.data))
    return true
  }
  expect(scanned).toBeInstanceOf(BroadcastText)
  if (expected.type !== "broadcast") throw new Error("not a broadcast")
  expect(broadcastEventFrameOfJson(scanned.eventTypeJson, scanned.dataJson, undefined, actor, at)).toBe(broadcastEventFrame(expected.event, actor, at))
  return true
}

/** The client's own encoding of a publish (Connection.request adds the id after the message, and a key). */
const clientPublish = (type: string, data: unknown, idempotencyKey?: string, id?: string): string =>
  JSON.stringify({ type: "publish", message: { type, data, ...(idempotencyKey === undefined ? {} : { idempotencyKey }) }, ...(id === undefined ? {} : { id }) })

/** The client's own encoding of a broadcast (LiveClient + Connection.request). */
const clientFrame = (type: string, data: unknown, includeSelf?: boolean, id?: string): string =>
  JSON.stringify({ type: "broadcast", event: { type, data }, ...(includeSelf === undefined ? {} : { includeSelf }), ...(id === undefined ? {} : { id }) })

describe("a broadcast or publish read from its text", () => {
  it("accepts the frames clients send, each exactly as the Schema decodes it and encoded as before", () => {
    const frames = [
      '{"type":"broadcast","event":{"type":"b","data":{"fseq":12,"t":1764532800123,"p":"xxxxxxxxxxxxxxxx"}}}',
      clientFrame("cursor", { x: 0.25, y: -3, user: "Zoë 🎉" }, false, "r_1"),
      clientFrame("typing", null, true),
      clientFrame("t", [1, "two", [true, false, null], {}, [], -0.5, 1e21, 12345678901234]),
      clientFrame("a\u00e9b", "text"),
      clientPublish("chat", { text: "hi", n: 3 }, "client_abc", "r_2"),
      clientPublish("m", null),
      '{"type":"publish","id":"3","message":{"type":"m","data":{"n":3,"text":"persisted publish bench"},"idempotencyKey":"k3"}}',
    ]
    for (const frame of frames) expect(holds(frame), frame).toBe(true)
  })

  it("declines what it cannot vouch for, which the ordinary path then decides", () => {
    const declined = [
      '{"type":"broadcast","event":{"type":"b","data":1} }', // whitespace
      '{"type":"broadcast","event":{"type":"b","data":"a\\"b"}}', // an escape
      '{"type":"broadcast","event":{"type":"b","data":"\ud800"}}', // a lone surrogate
      '{"type":"broadcast","event":{"type":"b","data":1.0}}', // not canonical
      '{"type":"broadcast","event":{"type":"b","data":1e2}}',
      '{"type":"broadcast","event":{"type":"b","data":-0}}',
      '{"type":"broadcast","event":{"type":"b","data":1e400}}', // not finite
      '{"type":"broadcast","event":{"type":"b","data":12345678901234567890}}', // not exact
      '{"type":"broadcast","event":{"type":"b","data":01}}', // not JSON
      '{"type":"broadcast","event":{"type":"b","data":{"a":1,"a":2}}}', // a repeated key
      '{"type":"broadcast","event":{"type":"b","data":{"b":1,"1":2}}}', // an integer key (reordered by JSON.parse)
      '{"type":"broadcast","event":{"type":"b","data":{"__proto__":{"x":1}}}}', // refused by JsonValue
      '{"type":"broadcast","event":{"type":"b","data":{"constructor":1}}}',
      `{"type":"broadcast","event":{"type":"b","data":${"[".repeat(17)}${"]".repeat(17)}}}`, // deeper than the scan goes
      '{"type":"broadcast","event":{"type":"","data":1}}', // an empty type (MessageType)
      '{"type":"broadcast","event":{"type":"a\u0080b","data":1}}', // a C1 control character in the type
      '{"type":"broadcast","event":{"type":"a\u2028b","data":1}}', // a control character in the type
      `{"type":"broadcast","event":{"type":"b","data":1},"id":"${"x".repeat(129)}"}`, // RequestId too long
      '{"type":"broadcast","event":{"type":"b","data":1,"metadata":{}}}', // metadata
      '{"type":"broadcast","event":{"type":"b","data":1},"id":"r","includeSelf":true}', // another order
      '{"type":"broadcast","event":{"type":"b","data":1},"includeSelf":1}',
      '{"type":"broadcast","event":{"type":"b","data":1}}x', // trailing text
      '{"type":"broadcast","event":{"type":"b","data":[1,]}}',
      '{"type":"broadcast","event":{"type":"b","data":tru}}',
      '{"type":"broadcast","event":{"type":"b","data":',
      '{"type":"broadcast","event":{"type":"b"}}', // no data: the Schema's default, the ordinary way
    ]
    for (const frame of declined) expect(scanBroadcast(frame), frame).toBeUndefined()
    const declinedPublishes = [
      '{"type":"publish","message":{"type":"m","data":1,"idempotencyKey":""}}', // an empty key (IdempotencyKey)
      `{"type":"publish","message":{"type":"m","data":1,"idempotencyKey":"${"k".repeat(257)}"}}`,
      '{"type":"publish","message":{"type":"m","data":1,"metadata":{"a":1}}}', // metadata
      '{"type":"publish","message":{"type":"m","idempotencyKey":"k","data":1}}', // another order
      '{"type":"publish","id":"1","message":{"type":"m","data":1},"id":"2"}', // two ids
      '{"type":"publish","message":{"type":"m","data":{"a":1,"a":2}}}',
      '{"type":"publish","message":{"type":"m","data":1.50}}',
      '{"type":"publish","message":{"type":"m"}}',
    ]
    for (const frame of declinedPublishes) expect(scanPublish(frame), frame).toBeUndefined()
  })

  it("holds to the Schema on generated frames, and declines none the client writes from plain data", () => {
    // Keys that JSON.parse keeps in order, strings without characters JSON escapes, canonical numbers.
    const key = fc.string({ minLength: 1, maxLength: 6 }).filter((text) => /^[a-z_][a-z0-9_ ]*$/i.test(text) && !["__proto__", "constructor", "prototype"].includes(text))
    const text = fc.string({ maxLength: 12 }).filter((value) => !/[\u0000-\u001f"\\]/.test(value))
    const plain = fc.letrec((tie) => ({
      value: fc.oneof({ depthSize: "small" }, fc.constant(null), fc.boolean(), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }).filter((n) => !Object.is(n, -0)), text, fc.array(tie("value"), { maxLength: 4 }), fc.dictionary(key, tie("value"), { maxKeys: 4 })),
    })).value
    fc.assert(
      fc.property(fc.constantFrom("b", "cursor", "é"), plain, fc.option(fc.boolean(), { nil: undefined }), fc.option(fc.constantFrom("1", "req_9"), { nil: undefined }), (type, data, includeSelf, id) => {
        expect(holds(clientFrame(type, data, includeSelf, id))).toBe(true)
        expect(holds(clientPublish(type, data, includeSelf === undefined ? undefined : `key_${type}`, id))).toBe(true)
      }),
      { numRuns: 300 },
    )
  })

  it("never accepts a mutated frame the Schema would not give the same value for", () => {
    const alphabet = ['"', "\\", "{", "}", "[", "]", ",", ":", " ", "0", "1", "-", ".", "e", "a", "n", "t", "f", "\u2028"]
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 3 }), fc.array(fc.tuple(fc.nat(), fc.nat(), fc.constantFrom(...alphabet)), { minLength: 1, maxLength: 3 }), (data, edits) => {
        let frame = edits.length % 2 === 0 ? clientFrame("b", data) : clientPublish("b", data, "k", "1")
        for (const [where, how, char] of edits) {
          const index = where % (frame.length + 1)
          frame = how % 2 === 0 ? frame.slice(0, index) + char + frame.slice(index) : frame.slice(0, index) + frame.slice(index + 1)
        }
        holds(frame)
      }),
      { numRuns: 1500 },
    )
  })
})
