/**
 * The socket layer (src/sockets/) with a protocol of its own: the guards run in their order
 * (grant expiry, size before decode, rate budget with strikes, decode refusals with strikes) before
 * a frame reaches the protocol, handler errors come back as the protocol's error frame with the
 * frame's id, the fast path runs synchronously, the close handshake forgets the connection's
 * strikes and budget, and the one grant-expiry job closes every protocol's expired sockets.
 * Sockets here are plain objects (the layer only calls send/close/attachment on them); the
 * integration proofs on real objects are grants.test.ts, limits.test.ts and the crdt tests, and
 * the last test below (one job for both protocols of a CRDT room).
 */
import { Effect, Layer } from "effect"
import { describe, expect, it } from "vitest"
import { InvalidInput, LimitExceeded } from "../src/RealtimeError.js"
import { Jobs, type JobsShape } from "../src/services/Jobs.js"
import { makeRateBudget } from "../src/services/RateBudget.js"
import { readAttachment, type SocketAttachment } from "../src/sockets/Attachment.js"
import { Close, closingFor, echoCode } from "../src/sockets/CloseCodes.js"
import { Connections, makeHibernating } from "../src/sockets/Connections.js"
import { frameTooBig, MAX_RATE_STRIKES, RATE_STRIKE_WINDOW_MS } from "../src/sockets/Guards.js"
import { FrameRefused, type SocketProtocol } from "../src/sockets/Protocol.js"
import { DEFAULT_PROTOCOL, GRANT_EXPIRY_JOB, invalidFrame, make, type SocketsShape } from "../src/sockets/Sockets.js"
import { connectYjs, crdtGrant } from "./crdt-helpers.js"
import { connect } from "./live-helpers.js"

/** A socket as the layer sees it: what it sent, how it was closed, its serialized attachment. */
const fakeSocket = (attachment: unknown) => {
  const socket = {
    readyState: 1,
    sent: [] as Array<unknown>,
    closed: undefined as { code: number; reason: string } | undefined,
    reads: 0,
    send(frame: unknown) {
      socket.sent.push(frame)
    },
    close(code: number, reason: string) {
      socket.closed ??= { code, reason }
      socket.readyState = 3
    },
    deserializeAttachment() {
      socket.reads++
      return attachment
    },
    serializeAttachment() {},
  }
  return socket
}
type FakeSocket = ReturnType<typeof fakeSocket>
const asSocket = (socket: FakeSocket) => socket as unknown as WebSocket

/** The layer over fake sockets, with jobs kept in a map. */
const layerWith = (sockets: ReadonlyArray<FakeSocket>) => {
  const scheduled = new Map<string, number>()
  const jobs: JobsShape = {
    schedule: (name, at) => Effect.sync(() => void scheduled.set(name, at)),
    ensure: (name, at) => Effect.sync(() => void scheduled.set(name, Math.min(at, scheduled.get(name) ?? Infinity))),
    cancel: (name) => Effect.sync(() => void scheduled.delete(name)),
    pending: Effect.succeed([]),
    runDue: () => Effect.succeed([]),
    rearm: Effect.void,
  }
  const ctx = { getWebSockets: () => sockets.map(asSocket), acceptWebSocket: () => undefined } as unknown as DurableObjectState
  const layer = Layer.merge(Layer.succeed(Jobs, jobs), Layer.succeed(Connections, makeHibernating(ctx)))
  return { scheduled, build: Effect.runSync(make(ctx).pipe(Effect.provide(layer))) }
}

interface Echo {
  readonly id?: string
  readonly text: string
}

const LIMIT = 64
const limits = { perSecond: 1, burst: 3, bytesPerSecond: 1_000_000, bytesBurst: 1_000_000 }

/** A tiny JSON protocol: `{"id"?, "text"}`; "fail" makes its handler fail, "fast" takes the fast path. */
const echoProtocol = (handled: Array<string>): SocketProtocol<Echo> => ({
  name: DEFAULT_PROTOCOL,
  maxFrameBytes: LIMIT,
  budget: makeRateBudget({ connection: limits, actor: { ...limits, burst: 100, perSecond: 100 } }),
  maxStrikes: 2,
  errorFrame: (error, id) => JSON.stringify({ error: error._tag, ...(id === undefined ? {} : { id }) }),
  decode: (message) => {
    if (typeof message !== "string") return invalidFrame("binary", { close: Close.unsupported })
    try {
      const json = JSON.parse(message) as Echo
      return typeof json.text === "string" ? json : invalidFrame("no text")
    } catch {
      return new FrameRefused(new InvalidInput({ field: "frame", message: "not JSON" }))
    }
  },
  frameId: (frame) => frame.id,
  handle: (_socket, _attachment, frame) =>
    frame.text === "fail" ? Effect.fail(new LimitExceeded({ limit: "rate", message: "refused by the handler" })) : Effect.sync(() => void handled.push(frame.text)),
  handleNow: (socket, attachment, frame) => {
    if (frame.text !== "fast") return echoProtocol(handled).handle(socket, attachment, frame)
    handled.push("fast (sync)")
    return undefined
  },
})

const attachment = (connectionId: string, expiresAt = Date.now() + 60_000): SocketAttachment => ({ connectionId, member: `user:${connectionId}`, expiresAt })

const run = (sockets: SocketsShape, socket: FakeSocket, text: string | ArrayBuffer) => Effect.runPromise(sockets.message(asSocket(socket), text))

describe("socket layer: guards, in order, before the protocol", () => {
  it("closes an expired grant's socket before reading its frame, and a frame over the size before decoding it", async () => {
    const handled: Array<string> = []
    const expired = fakeSocket(attachment("expired", Date.now() - 1))
    const big = fakeSocket(attachment("big"))
    const { build: sockets } = layerWith([expired, big])
    sockets.register(echoProtocol(handled))
    await run(sockets, expired, '{"text":"hello"}')
    expect(expired.closed).toEqual({ code: 4001, reason: "grant expired" })
    // Not JSON, but too big is what it is told: size comes before decode.
    await run(sockets, big, "x".repeat(LIMIT + 1))
    expect(big.sent).toEqual([JSON.stringify({ error: "PayloadTooLarge" })])
    expect(big.closed).toEqual({ code: 1009, reason: "frame too big" })
    expect(handled).toEqual([])
  })

  it("refuses frames over the rate budget with an error frame, and closes with 4009 after MAX_RATE_STRIKES", async () => {
    const handled: Array<string> = []
    const socket = fakeSocket(attachment("flood"))
    const { build: sockets } = layerWith([socket])
    sockets.register(echoProtocol(handled))
    for (let index = 0; index < 3 + MAX_RATE_STRIKES; index++) await run(sockets, socket, `{"text":"m${index}"}`)
    // The burst (3) was handled; the rest refused, each with an error frame, until the close.
    expect(handled).toEqual(["m0", "m1", "m2"])
    expect(socket.sent.filter((frame) => frame === JSON.stringify({ error: "LimitExceeded" }))).toHaveLength(MAX_RATE_STRIKES)
    expect(socket.closed).toEqual({ code: 4009, reason: "rate limit exceeded" })
    expect(RATE_STRIKE_WINDOW_MS).toBeGreaterThan(0)
  })

  it("strikes invalid frames (closing with 1008 after maxStrikes), closes at once when decode says so, and reports handler errors with the frame id", async () => {
    const handled: Array<string> = []
    const invalid = fakeSocket(attachment("invalid"))
    const binary = fakeSocket(attachment("binary"))
    const failing = fakeSocket(attachment("failing"))
    const { build: sockets } = layerWith([invalid, binary, failing])
    sockets.register(echoProtocol(handled))
    await run(sockets, invalid, "not json")
    expect(invalid.closed).toBeUndefined()
    await run(sockets, invalid, '{"id":"x"}')
    expect(invalid.sent).toEqual([JSON.stringify({ error: "InvalidInput" }), JSON.stringify({ error: "InvalidInput" })])
    expect(invalid.closed).toEqual({ code: 1008, reason: "too many invalid frames" })
    await run(sockets, binary, new ArrayBuffer(4))
    expect(binary.closed).toEqual({ code: 1003, reason: "binary" })
    await run(sockets, failing, '{"id":"f1","text":"fail"}')
    expect(failing.sent).toEqual([JSON.stringify({ error: "LimitExceeded", id: "f1" })])
    expect(failing.closed).toBeUndefined()
    expect(handled).toEqual([])
  })

  it("runs the fast path synchronously, and the rest through the handler's Effect", async () => {
    const handled: Array<string> = []
    const socket = fakeSocket(attachment("fast"))
    const { build: sockets } = layerWith([socket])
    sockets.register(echoProtocol(handled))
    expect(sockets.messageNow(asSocket(socket), '{"text":"fast"}')).toBeUndefined()
    expect(handled).toEqual(["fast (sync)"])
    const rest = sockets.messageNow(asSocket(socket), '{"text":"slow"}')
    expect(rest).toBeDefined()
    expect(handled).toEqual(["fast (sync)"])
    await Effect.runPromise(rest!)
    expect(handled).toEqual(["fast (sync)", "slow"])
  })

  it("answers a close with an allowed code and forgets the connection's strikes", async () => {
    const handled: Array<string> = []
    const socket = fakeSocket(attachment("closing"))
    const { build: sockets } = layerWith([socket])
    sockets.register(echoProtocol(handled))
    await run(sockets, socket, "not json")
    await Effect.runPromise(sockets.closed(asSocket(socket), 1006, "gone"))
    expect(socket.closed).toEqual({ code: 1000, reason: "gone" })
    // A socket object with the same connection id starts with no strike left over.
    const again = fakeSocket(attachment("closing"))
    await run(sockets, again, "not json")
    expect(again.closed).toBeUndefined()
  })

  it("one grant-expiry job closes the expired sockets of every protocol and comes back at the next expiry", async () => {
    const now = Date.now()
    const json = fakeSocket(attachment("json", now - 1))
    const yjs = fakeSocket({ ...attachment("yjs", now - 1), protocol: "yjs" })
    const later = fakeSocket(attachment("later", now + 30_000))
    const { build: sockets } = layerWith([json, yjs, later])
    let sse: number | null = now + 10_000
    sockets.expiring(() => sse)
    expect(await Effect.runPromise(sockets.jobs[GRANT_EXPIRY_JOB])).toBe(now + 10_000)
    expect(json.closed?.code).toBe(4001)
    expect(yjs.closed?.code).toBe(4001)
    expect(later.closed).toBeUndefined()
    sse = null
    expect(await Effect.runPromise(sockets.jobs[GRANT_EXPIRY_JOB])).toBe(now + 30_000)
  })
})

describe("socket layer: attachments, close codes, sizes", () => {
  it("reads an attachment once per socket object, and refuses one this library did not write", () => {
    const good = fakeSocket(attachment("good"))
    expect(readAttachment(asSocket(good))?.connectionId).toBe("good")
    expect(readAttachment(asSocket(good))?.connectionId).toBe("good")
    expect(good.reads).toBe(1)
    expect(readAttachment(asSocket(fakeSocket({ connectionId: 42 })))).toBeNull()
    expect(readAttachment(asSocket(fakeSocket(null)))).toBeNull()
  })

  it("echoes only codes a server may send, and maps errors to their closing", () => {
    expect([1000, 1001, 4001, 4999].map(echoCode)).toEqual([1000, 1001, 4001, 4999])
    expect([1005, 1006, 999, 5000].map(echoCode)).toEqual([1000, 1000, 1000, 1000])
    expect(closingFor(new InvalidInput({ field: "frame", message: "bad" }))).toBe(Close.policy)
    expect(closingFor(new LimitExceeded({ limit: "rate", message: "slow down" }))).toBe(Close.internal)
  })

  it("measures a frame in UTF-8 bytes without encoding it when the answer is obvious", () => {
    expect(frameTooBig("a".repeat(10), 10)).toBeUndefined()
    expect(frameTooBig("a".repeat(11), 10)).toBe(11)
    // Four characters of three bytes each: 12 bytes over a limit of 10.
    expect(frameTooBig("€€€€", 10)).toBe(12)
    expect(frameTooBig("€€€", 10)).toBeUndefined()
    expect(frameTooBig(new ArrayBuffer(11), 10)).toBe(11)
  })
})

describe("socket layer on a real CRDT room", () => {
  it("closes a room socket and a y-websocket socket of one CRDT room with 4001 through the one grant-expiry job", async () => {
    const roomId = `sockets-expiry-${Date.now().toString(36)}`
    const grant = await crdtGrant(roomId, "alice", ["read", "write", "presence", "publish"], 1)
    const room = await connect(grant)
    const yjs = await connectYjs(grant)
    const [roomClosed, yjsClosed] = await Promise.all([room.closed, yjs.closed])
    expect(roomClosed.code).toBe(4001)
    expect(yjsClosed.code).toBe(4001)
    expect(Date.now()).toBeGreaterThanOrEqual(grant.expiresAt - 50)
  })
})
