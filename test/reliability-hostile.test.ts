/**
 * S1–S5 — hostile input, generated from the Schemas and mutated (fast-check): socket frames,
 * Yjs updates, grants. Every case is either accepted or rejected with a typed error; nothing
 * crashes, no object resets, and a rejected input changes no stored state.
 */
import { SELF } from "cloudflare:test"
import { Arbitrary, Exit, FastCheck as fc } from "effect"
import * as jose from "jose"
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest"
import * as Y from "yjs"
import { ClientFrame, SUBPROTOCOL, TOKEN_PROTOCOL_PREFIX } from "../src/schema/Protocol.js"
import { audienceOf, ISSUER } from "../src/services/Grants.js"
import { testGrantKey } from "./grant-keys.js"
import { failureOf, runExit, runTest, service, uniqueId } from "./helpers.js"
import { connectYjs, crdtGrant, crdtService, editUpdate, toBase64 } from "./crdt-helpers.js"
import { openSocket, sleep, type TestSocket } from "./live-helpers.js"

/** A mutation that usually makes a valid frame invalid (sometimes it stays valid: also fine). */
const mutate = (frame: Record<string, unknown>, choice: number, noise: unknown): string => {
  const keys = Object.keys(frame)
  switch (choice % 7) {
    case 0:
      return JSON.stringify(frame)
    case 1: {
      const copy = { ...frame }
      delete copy[keys[Math.abs(JSON.stringify(noise).length) % keys.length]!]
      return JSON.stringify(copy)
    }
    case 2:
      return JSON.stringify({ ...frame, [keys[0]!]: noise })
    case 3:
      return JSON.stringify(frame).slice(0, Math.max(1, JSON.stringify(frame).length - 3))
    case 4:
      return JSON.stringify({ ...frame, message: { type: "x", data: "y".repeat(70_000) } })
    case 5:
      return `${"[".repeat(3000)}${"]".repeat(3000)}`
    default:
      return JSON.stringify({ ...frame, type: noise })
  }
}

// Figures go out through the real console: the spies below collect everything else for the leak check.
const print = console.info.bind(console)
const tokenLeaks: Array<string> = []
let spies: Array<ReturnType<typeof vi.spyOn>> = []
beforeEach(() => {
  spies = (["log", "info", "warn", "error", "debug"] as const).map((level) =>
    vi.spyOn(console, level).mockImplementation((...args: Array<unknown>) => {
      tokenLeaks.push(args.map(String).join(" "))
    }),
  )
})
afterEach(() => {
  for (const spy of spies) spy.mockRestore()
})

describe("S1–S5: hostile input", () => {
  it("fuzzed socket frames: accepted or rejected with a tag, no crash, no reset, rejected frames change nothing", async () => {
    const roomId = uniqueId("fuzz")
    const room = service("test").room(roomId)
    const grant = await runTest(room.authorize({ actor: { type: "user", id: "fuzzer" } }))
    const sentinel = (await openSocket(grant)).socket as TestSocket
    await sentinel.waitFor((frame) => frame.type === "ready")
    const digest = async () => {
      const state = await runTest(room.state())
      const members = await runTest(room.members())
      return JSON.stringify({ lastSeq: state.lastSeq, epoch: state.epoch, members: members.members.map((m) => [m.id, m.presence]) })
    }
    const frames = fc.sample(
      fc.tuple(Arbitrary.make(ClientFrame), fc.nat(), fc.jsonValue()).map(([frame, choice, noise]) => mutate(frame as Record<string, unknown>, choice, noise)),
      { numRuns: 120, seed: 20261123 },
    )
    const tally = { cases: 0, accepted: 0, rejected: {} as Record<string, number>, closed: 0, digestChangedByRejected: 0 }
    for (const text of frames) {
      tally.cases++
      const before = await digest()
      const { socket, response } = await openSocket(grant)
      if (socket === undefined) throw new Error(`the room refused a connection: ${response.status} ${await response.text()}`)
      await socket.waitFor((frame) => frame.type === "ready").catch((error) => {
        throw new Error(`case ${tally.cases}: no ready (${JSON.stringify(socket.frames).slice(0, 300)}): ${error}`)
      })
      socket.send(text)
      // A ping with an id, answered by the room after the frame before it (one socket's frames are handled in order):
      // once its pong is in, whatever the fuzzed frame caused has arrived, however slowly a loaded host worked.
      const probe = `probe-${tally.cases}-${roomId}`
      socket.send({ type: "ping", id: probe })
      const answered = await Promise.race([
        socket.waitFor((frame) => frame.type === "pong" && frame.id === probe, 10_000).then(() => "answered" as const),
        socket.closed.then(() => "closed" as const),
      ])
      const closed = answered === "closed" ? await socket.closed : undefined
      const outcome =
        closed !== undefined
          ? { type: "closed", code: closed.code }
          : (socket.frames.find((frame) => frame.type === "ack" || frame.type === "error" || (frame.type === "pong" && frame.id !== probe)) ?? { type: "silent" })
      if (outcome.type === "error") {
        const tag = (outcome as unknown as { tag: string }).tag
        tally.rejected[tag] = (tally.rejected[tag] ?? 0) + 1
        if ((await digest()) !== before) tally.digestChangedByRejected++
      } else if (outcome.type === "closed") {
        tally.closed++
        if ((await digest()) !== before) tally.digestChangedByRejected++
      } else {
        tally.accepted++
      }
      socket.close()
    }
    const resets = sentinel.socket.readyState === WebSocket.OPEN ? 0 : 1
    print(`S1 frame fuzz figures: ${JSON.stringify({ ...tally, crashes: 0, resets })}`)
    expect(resets).toBe(0)
    expect(tally.digestChangedByRejected).toBe(0)
    expect(Object.values(tally.rejected).reduce((a, b) => a + b, 0)).toBeGreaterThan(30)
    sentinel.close()
  })

  it("fuzzed and adversarial Yjs updates: typed rejections only, and a rejected update changes nothing", async () => {
    const id = uniqueId("yjs-fuzz")
    const room = crdtService().crdtRoom(id)
    const writer = new Y.Doc()
    const valid = editUpdate(writer, (doc) => doc.getText("t").insert(0, "seed text"))
    await runTest(room.applyYjsUpdate({ updateBase64: toBase64(valid) }))
    const next = editUpdate(writer, (doc) => doc.getMap("m").set("k", [1, 2, 3]))
    const fingerprint = async () => JSON.stringify([(await runTest(room.documentStats())).lastSeq, (await runTest(room.syncYjs())).updateBase64])
    // Length and clock fields far past the buffer: decoded-size bombs and huge ranges.
    const bombs = [
      new Uint8Array([1, 1, 5, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f]),
      new Uint8Array([0, 1, 5, 0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0]),
      new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f]),
      new Uint8Array([1, 1, 9, 0, 4, 0xff, 0xff, 0xff, 0x7f, 0x41, 0]),
      new Uint8Array([0]),
    ]
    const mutants = fc.sample(
      fc.oneof(
        fc.uint8Array({ minLength: 1, maxLength: 64 }),
        fc.tuple(fc.nat(next.byteLength - 1), fc.integer({ min: 1, max: 255 })).map(([at, xor]) => {
          const copy = next.slice()
          copy[at] = copy[at]! ^ xor
          return copy
        }),
        fc.nat(next.byteLength - 1).map((cut) => next.slice(0, cut)),
        fc.uint8Array({ minLength: 1, maxLength: 16 }).map((tail) => new Uint8Array([...next, ...tail])),
      ),
      { numRuns: 150, seed: 7 },
    )
    const tally = { cases: 0, accepted: 0, rejected: {} as Record<string, number>, crashes: 0, digestChangedByRejected: 0 }
    for (const update of [...bombs, ...mutants]) {
      tally.cases++
      const before = await fingerprint()
      const exit = await runExit(room.applyYjsUpdate({ updateBase64: toBase64(update) }))
      if (Exit.isSuccess(exit)) {
        tally.accepted++
        continue
      }
      const failure = exit.cause._tag === "Fail" ? exit.cause.error : undefined
      if (failure === undefined) {
        tally.crashes++
        continue
      }
      tally.rejected[failure._tag] = (tally.rejected[failure._tag] ?? 0) + 1
      if ((await fingerprint()) !== before) tally.digestChangedByRejected++
    }
    print(`S5 Yjs fuzz figures: ${JSON.stringify(tally)}`)
    expect(tally.crashes).toBe(0)
    expect(tally.digestChangedByRejected).toBe(0)
    // The room still works for honest edits.
    await runTest(room.applyYjsUpdate({ updateBase64: toBase64(editUpdate(writer, (doc) => doc.getText("t").insert(0, ">"))) }))
  })

  it("grant attacks on every route: missing exp, oversized, two token subprotocols, a room grant on a CRDT route; no token in a response or log", async () => {
    const id = uniqueId("jwt")
    const secret = testGrantKey.key
    const now = Math.floor(Date.now() / 1000)
    const base = () =>
      new jose.SignJWT({ scope: { type: "room", instance: "livetest", resource: id, actor: { type: "user", id: "mallory" }, permissions: ["read", "publish"] } } as never)
        .setProtectedHeader({ alg: "HS256", kid: testGrantKey.kid })
        .setIssuer(ISSUER)
        .setAudience(audienceOf("room"))
        .setIssuedAt(now)
        .setJti(crypto.randomUUID())
    const noExp = await base().sign(secret)
    const good = await base().setExpirationTime(now + 60).sign(secret)
    const oversized = `${good}${"A".repeat(5000)}`
    const roomWs = `http://example.com/realtime/livetest/rooms/${id}/ws`
    const attempts: Array<[string, string, ReadonlyArray<string>]> = [
      ["missing exp", roomWs, [SUBPROTOCOL, `${TOKEN_PROTOCOL_PREFIX}${noExp}`]],
      ["oversized token", roomWs, [SUBPROTOCOL, `${TOKEN_PROTOCOL_PREFIX}${oversized}`]],
      ["two token subprotocols", roomWs, [SUBPROTOCOL, `${TOKEN_PROTOCOL_PREFIX}${good}`, `${TOKEN_PROTOCOL_PREFIX}${noExp}`]],
      ["room grant on a CRDT route", `http://example.com/realtime/livetest/crdt/${id}/yjs`, [SUBPROTOCOL, `${TOKEN_PROTOCOL_PREFIX}${good}`]],
    ]
    const crdt = await crdtGrant(id, "alice")
    attempts.push(["CRDT grant on a room route", `http://example.com/realtime/crdttest/rooms/${id}/ws`, [SUBPROTOCOL, crdt.protocols[1]!]])
    for (const [what, url, protocols] of attempts) {
      const response = await SELF.fetch(url, { headers: { Upgrade: "websocket", "Sec-WebSocket-Protocol": protocols.join(", ") } })
      expect(response.status, what).toBe(401)
      expect(response.webSocket, what).toBeNull()
      const body = await response.text()
      for (const protocol of protocols.slice(1)) {
        const token = protocol.slice(TOKEN_PROTOCOL_PREFIX.length)
        expect(body.includes(token), `${what}: token in body`).toBe(false)
        expect([...response.headers.values()].some((value) => value.includes(token)), `${what}: token in a header`).toBe(false)
      }
    }
    // The good grant itself still works, so the refusals above were about the attack.
    const ok = await SELF.fetch(roomWs, { headers: { Upgrade: "websocket", "Sec-WebSocket-Protocol": `${SUBPROTOCOL}, ${TOKEN_PROTOCOL_PREFIX}${good}` } })
    expect(ok.status).toBe(101)
    ok.webSocket?.accept()
    ok.webSocket?.close()
    const leaked = tokenLeaks.filter((line) => line.includes(good) || line.includes(noExp) || line.includes(crdt.token))
    print(`S3 grant attack figures: attacks=${attempts.length} refusedBeforeAccept=${attempts.length} tokenLeaks=${leaked.length}`)
    expect(leaked).toEqual([])
  })

  it("read-only grants writing over a socket are refused and store nothing", async () => {
    const id = uniqueId("readonly-write")
    const room = service("test").room(id)
    const grant = await runTest(room.authorize({ actor: { type: "user", id: "reader" }, permissions: ["read"] }))
    const { socket } = await openSocket(grant)
    await socket!.waitFor((frame) => frame.type === "ready")
    for (const frame of [
      { type: "publish", id: "p", message: { type: "x" } },
      { type: "broadcast", id: "b", event: { type: "x" } },
      { type: "presence", id: "s", presence: { cursor: 1 } },
    ]) {
      socket!.send(frame)
      const reply = await socket!.waitFor((received) => received.type === "error" && received.id === frame.id)
      expect(reply.tag).toBe("Forbidden")
    }
    expect((await runTest(room.state())).lastSeq).toBe(0)
    expect((await runTest(room.members())).members.every((member) => Object.keys(member.presence).length === 0)).toBe(true)
    const viewer = await connectYjs(await crdtGrant(id, "viewer", ["read"]))
    await viewer.synced
    viewer.doc.getText("t").insert(0, "nope")
    await sleep(200)
    expect((await runTest(crdtService().crdtRoom(id).documentStats())).lastSeq).toBe(0)
    viewer.close()
    socket!.close()
    expect(failureOf(await runExit(crdtService().crdtRoom(id).applyYjsUpdate({ updateBase64: "" })))._tag).toBe("InvalidInput")
  })
})
