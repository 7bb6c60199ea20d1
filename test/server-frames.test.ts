/**
 * Server frames of rooms and channels (src/schema/ServerFrames.ts): each builder's text decodes
 * through the `ServerFrame` Schema to the frame it was given, and a stored message's text,
 * assembled from its row's JSON columns, is exactly what encoding the decoded message gives.
 */
import { FastCheck as fc, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { isoTime } from "../src/internal/IsoTime.js"
import type { StoredMessage } from "../src/schema/Message.js"
import { ServerFrame } from "../src/schema/Protocol.js"
import {
  ackFrame,
  broadcastEventFrame,
  closeFrame,
  discontinuityFrame,
  errorFrame,
  eventFrame,
  leftEntryText,
  membersFrameText,
  messageFrame,
  messageJson,
  pongFrame,
  presenceFrame,
  readyFrame,
  storedMessageJson,
  withMessageJson,
} from "../src/schema/ServerFrames.js"

const decode = (text: string) => Schema.decodeUnknownSync(ServerFrame)(JSON.parse(text))

const rows = [
  { id: "msg_ab12_1", seq: 1, epoch: "ab12", type: "chat", data: { text: 'quote " and \\ and \n and ✓ 😀' }, metadata: null, actor: { type: "user", id: "ada" }, key: null },
  { id: "msg_ab12_2", seq: 2, epoch: "ab12", type: 'odd "type" ü', data: [1, 2.5, null, true, "x"], metadata: { trace: "t-1", n: 3 }, actor: { type: "service", id: "s", name: "Ső" }, key: 'key "k"' },
  { id: "msg_ab12_3", seq: 3, epoch: "ab12", type: "t", data: null, metadata: {}, actor: { type: "anonymous", id: "anonymous" }, key: "k2" },
]

/** A row as MessageLog decodes it: the message object, with its row's text remembered. */
const stored = (row: (typeof rows)[number]) => {
  const createdAt = new Date(1_700_000_000_000 + row.seq).toISOString()
  const message = {
    id: row.id,
    seq: row.seq,
    epoch: row.epoch,
    type: row.type,
    data: row.data,
    ...(row.metadata === null ? {} : { metadata: row.metadata }),
    actor: row.actor,
    createdAt,
    ...(row.key === null ? {} : { idempotencyKey: row.key }),
  } as StoredMessage
  const json = storedMessageJson({
    id: row.id,
    seq: row.seq,
    epoch: row.epoch,
    type: row.type,
    dataJson: JSON.stringify(row.data),
    metadataJson: row.metadata === null ? null : JSON.stringify(row.metadata),
    actorJson: JSON.stringify(row.actor),
    createdAt,
    idempotencyKey: row.key,
  })
  return { message, json }
}

describe("server frames", () => {
  it("a stored message's text from its row is exactly JSON.stringify of the message", () => {
    for (const row of rows) {
      const { message, json } = stored(row)
      expect(json).toBe(JSON.stringify(message))
    }
  })

  it("message and ack frames carry the remembered text, and decode to the message", () => {
    const { message, json } = stored(rows[1]!)
    // A remembered text is used as it is (a stale one would show here).
    const remembered = withMessageJson({ ...message }, json.replace('"seq":2', '"seq":2 '))
    expect(messageJson(remembered)).toContain('"seq":2 ')
    withMessageJson(message, json)
    expect(messageFrame(message)).toBe(`{"type":"message","message":${json}}`)
    expect(decode(messageFrame(message))).toEqual({ type: "message", message })
    const ack = ackFrame({ type: "ack", id: "r1", message, duplicate: true })
    expect(ack).toContain(json)
    expect(decode(ack)).toEqual({ type: "ack", id: "r1", message, duplicate: true })
    // A message built elsewhere (no row) is encoded on the spot.
    const fresh = { ...message, seq: 9 }
    expect(decode(messageFrame(fresh))).toEqual({ type: "message", message: fresh })
  })

  it("every other builder gives a frame of its Schema", () => {
    const actor = { type: "user", id: "ada" } as const
    const cases: ReadonlyArray<readonly [string, unknown]> = [
      [ackFrame({ type: "ack", id: "r2", delivered: 3 }), { type: "ack", id: "r2", delivered: 3 }],
      [ackFrame({ type: "ack", id: "r3" }), { type: "ack", id: "r3" }],
      [eventFrame({ type: "cursor", data: { x: 1 }, actor, createdAt: "2026-01-01T00:00:00.000Z" }), { type: "event", event: { type: "cursor", data: { x: 1 }, actor, createdAt: "2026-01-01T00:00:00.000Z" } }],
      [errorFrame({ _tag: "Forbidden", message: "no" }, "r4"), { type: "error", id: "r4", tag: "Forbidden", message: "no" }],
      [errorFrame({ _tag: "InvalidInput", message: "bad" }), { type: "error", tag: "InvalidInput", message: "bad" }],
      [pongFrame("r5"), { type: "pong", id: "r5" }],
      [pongFrame(undefined), { type: "pong" }],
      [discontinuityFrame({ type: "discontinuity", reason: "pruned", since: "e:1", epoch: "e", seq: 9 }), { type: "discontinuity", reason: "pruned", since: "e:1", epoch: "e", seq: 9 }],
      [presenceFrame([{ member: "user:ada", actor, presence: { typing: true } }]), { type: "presence", updates: [{ member: "user:ada", actor, presence: { typing: true } }] }],
      [closeFrame(4010, "slow"), { type: "close", code: 4010, reason: "slow" }],
    ]
    for (const [text, expected] of cases) expect(decode(text)).toEqual(expected)
    const ready = {
      type: "ready",
      connectionId: "c",
      kind: "room",
      id: "r",
      epoch: "e",
      seq: 0,
      resumed: false,
      replayed: 0,
      actor,
      permissions: ["read"],
      expiresAt: 1,
      heartbeatMs: 1000,
      memberCount: 1,
    } as const
    const withMembers = decode(readyFrame(ready, ['{"id":"user:ada","joinedAt":"2026-01-01T00:00:00.000Z"}']))
    expect(withMembers).toMatchObject({ ...ready, members: [{ id: "user:ada", actor: { type: "user", id: "ada" }, via: "socket" }] })
    expect(decode(readyFrame(ready))).toEqual(ready)
    const entry = '{"id":"user:bob","joinedAt":"2026-01-01T00:00:00.000Z"}'
    expect(decode(membersFrameText([entry], [leftEntryText(entry, "disconnect")], 1))).toMatchObject({
      type: "members",
      joined: [{ id: "user:bob", actor: { type: "user", id: "bob" } }],
      left: [{ member: { id: "user:bob" }, reason: "disconnect" }],
      count: 1,
    })
  })

  it("a broadcast's event frame is the text eventFrame gives, for any event and actor", () => {
    const actors = [{ type: "user", id: "ada" }, { type: "client", id: 'q"uote\\', name: "✓ 😀" }, { type: "anonymous", id: "anonymous" }] as const
    const events = fc.record(
      { type: fc.string({ minLength: 1 }), data: fc.jsonValue(), metadata: fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 2 })) },
      { requiredKeys: ["type", "data"] },
    )
    for (const [event, index] of fc.sample(fc.tuple(events, fc.nat(2)), 300)) {
      const actor = actors[index]!
      const text = broadcastEventFrame(event, actor, "2026-11-30T17:05:13.222Z")
      // Twice: the second takes the actor's cached text.
      expect(broadcastEventFrame(event, actor, "2026-11-30T17:05:13.222Z")).toBe(text)
      expect(text).toBe(eventFrame({ ...event, actor, createdAt: "2026-11-30T17:05:13.222Z" }))
    }
    expect(broadcastEventFrame({ type: "t", data: undefined }, actors[0], "x")).toBe(eventFrame({ type: "t", data: undefined, actor: actors[0], createdAt: "x" }))
  })

  it("isoTime is Date's toISOString, within a second, across seconds and at the edges", () => {
    const edges = [0, 1, 9, 10, 99, 100, 999, 1000, 1001, 1_796_058_313_222, 253_402_300_799_999, 253_402_300_800_000, -1, -62_198_755_200_000, 1.5, 8.64e15]
    const times = [...edges, ...fc.sample(fc.integer({ min: 0, max: 253_402_300_799_999 }), 500), ...Array.from({ length: 2100 }, (_, step) => 1_796_058_312_000 + step)]
    for (const millis of times) expect(isoTime(millis)).toBe(new Date(millis).toISOString())
  })
})
