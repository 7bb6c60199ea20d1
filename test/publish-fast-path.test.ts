import { describe, expect, it } from "vitest"
import { runTest, service, uniqueId } from "./helpers.js"
import { connect, liveService, roomGrant } from "./live-helpers.js"

// A socket `publish` arriving while the room's mailbox is idle is stored, fanned out and acked
// synchronously (Live.ts `publishNow`); these pin what that path must keep from the Effect path.
describe("socket publish on the idle-mailbox fast path", () => {
  it("stores once, acks, keeps order with a following broadcast, and never delivers a repeated key twice", async () => {
    const roomId = uniqueId("pub-fast")
    const alice = await connect(await roomGrant(roomId, "alice"))
    const bob = await connect(await roomGrant(roomId, "bob"))
    // The first publish settles activity and the directory report; the ones after it run without a fiber.
    alice.send({ type: "publish", id: "warm", message: { type: "n", data: { index: 0 }, idempotencyKey: "k0" } })
    await alice.waitFor((f) => f.type === "ack" && f.id === "warm")
    alice.send({ type: "publish", id: "p1", message: { type: "n", data: { index: 1 }, idempotencyKey: "k1" } })
    alice.send({ type: "broadcast", event: { type: "e", data: { index: 1 } } })
    alice.send({ type: "publish", id: "p1-retry", message: { type: "n", data: { index: 1 }, idempotencyKey: "k1" } })
    alice.send({ type: "broadcast", id: "end", event: { type: "end" } })
    await alice.waitFor((f) => f.type === "ack" && f.id === "end")
    await bob.waitFor((f) => f.type === "event" && f.event.type === "end")

    const ack = alice.frames.find((f) => f.type === "ack" && f.id === "p1")!
    const retry = alice.frames.find((f) => f.type === "ack" && f.id === "p1-retry")!
    expect(ack).toMatchObject({ duplicate: false, message: { seq: 2, type: "n", data: { index: 1 }, idempotencyKey: "k1", actor: { type: "user", id: "alice" } } })
    expect(retry.duplicate).toBe(true)
    expect(retry.message).toEqual(ack.message)

    // Bob: each stored message once, in send order with the broadcast between them.
    const seen = bob.frames
      .filter((f) => f.type === "message" || (f.type === "event" && f.event.type !== "welcome"))
      .map((f) => (f.type === "message" ? `message:${f.message.seq}` : `event:${f.event.type}`))
    expect(seen).toEqual(["message:1", "message:2", "event:e", "event:end"])
    expect(bob.frames.find((f) => f.type === "message" && f.message.seq === 2)!.message).toEqual(ack.message)

    const page = await runTest(liveService().room(roomId).history())
    expect(page.messages.map((m) => m.idempotencyKey)).toEqual(["k1", "k0"])
    // The fast path sends the stored message as JSON text it builds from the row: the same message history reads back.
    expect(ack.message).toEqual(page.messages[0])
    expect(ack.message.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    expect(Object.keys(ack)).toEqual(["type", "id", "duplicate", "message"])
    const state = await runTest(liveService().room(roomId).state())
    expect(state).toMatchObject({ lastSeq: 2, status: "active" })
    alice.close()
    bob.close()
  })

  it("a payload the fast path cannot store takes the ordinary path: refused as PayloadTooLarge, nothing stored", async () => {
    const room = service().room(uniqueId("pub-fast-big"))
    const alice = await connect(await runTest(room.authorize({ actor: { type: "user", id: "alice" }, permissions: ["read", "publish"], ttlSeconds: 60 })))
    alice.send({ type: "publish", id: "ok", message: { type: "n", data: 1 } })
    await alice.waitFor((f) => f.type === "ack" && f.id === "ok")
    // The test instance allows 1,024 bytes of payload: over that, in a frame well under the frame limit.
    alice.send({ type: "publish", id: "big", message: { type: "n", data: "x".repeat(1_500) } })
    expect((await alice.waitFor((f) => f.type === "error" && f.id === "big")).tag).toBe("PayloadTooLarge")
    alice.send({ type: "publish", id: "after", message: { type: "n", data: 2 } })
    expect((await alice.waitFor((f) => f.type === "ack" && f.id === "after")).message.seq).toBe(2)
    expect((await runTest(room.history())).messages).toHaveLength(2)
    alice.close()
  })

  it('a strict instance answers a reused key with a different payload by IdempotencyConflict over the socket', async () => {
    const room = service("strict").room(uniqueId("pub-fast-strict"))
    const grant = await runTest(room.authorize({ actor: { type: "user", id: "alice" }, permissions: ["read", "publish"], ttlSeconds: 60 }))
    const alice = await connect(grant)
    alice.send({ type: "publish", id: "a", message: { type: "n", data: 1, idempotencyKey: "same" } })
    await alice.waitFor((f) => f.type === "ack" && f.id === "a")
    alice.send({ type: "publish", id: "b", message: { type: "n", data: 2, idempotencyKey: "same" } })
    expect((await alice.waitFor((f) => f.type === "error" && f.id === "b")).tag).toBe("IdempotencyConflict")
    alice.send({ type: "publish", id: "c", message: { type: "n", data: 1, idempotencyKey: "same" } })
    expect((await alice.waitFor((f) => f.type === "ack" && f.id === "c")).duplicate).toBe(true)
    // A publish is fanned out before it is acked, on the same socket: by ack "c" every message frame it or "b" caused is here.
    expect(alice.frames.filter((f) => f.type === "message")).toHaveLength(1)
    expect((await runTest(room.history())).messages).toHaveLength(1)
    alice.close()
  })
})
