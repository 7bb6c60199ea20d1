import { describe, expect, it } from "vitest"
import { runTest, uniqueId } from "./helpers.js"
import { runInDurableObject } from "cloudflare:test"
import { channelGrant, connect, eventually, liveService, roomGrant, sleep, stubFor } from "./live-helpers.js"

describe("room and channel WebSockets", () => {
  it("sends ready with position, members and metadata, then delivers HTTP publishes as message frames", async () => {
    const roomId = uniqueId("ws")
    const room = liveService().room(roomId)
    await runTest(room.metadata({ metadata: { title: "Board" } }))
    const socket = await connect(await roomGrant(roomId, "alice"))
    const ready = socket.frames.find((frame) => frame.type === "ready")!
    expect(ready).toMatchObject({ kind: "room", id: roomId, seq: 0, resumed: false, actor: { id: "alice" }, metadata: { title: "Board" }, heartbeatMs: 1000 })
    expect(ready.members.map((member: { id: string }) => member.id)).toEqual(["user:alice"])
    const { message } = await runTest(room.publish({ type: "task.created", data: { n: 1 } }))
    const frame = await socket.waitFor((f) => f.type === "message")
    expect(frame.message).toEqual(message)
    expect(frame.message.epoch).toBe(ready.epoch)
    socket.close()
  })

  it("publishes over the socket as the grant's actor, acks, and fans out to everyone including the sender", async () => {
    const roomId = uniqueId("ws-pub")
    const alice = await connect(await roomGrant(roomId, "alice"))
    const bob = await connect(await roomGrant(roomId, "bob"))
    alice.send({ type: "publish", id: "r1", message: { type: "chat", data: { text: "hi" }, idempotencyKey: "k1" } })
    const ack = await alice.waitFor((f) => f.type === "ack" && f.id === "r1")
    expect(ack.message).toMatchObject({ seq: 1, type: "chat", actor: { type: "user", id: "alice" } })
    expect((await bob.waitFor((f) => f.type === "message")).message.id).toBe(ack.message.id)
    expect((await alice.waitFor((f) => f.type === "message")).message.id).toBe(ack.message.id)
    // The same idempotency key again: acked as a duplicate, not stored twice.
    alice.send({ type: "publish", id: "r2", message: { type: "chat", data: { text: "hi" }, idempotencyKey: "k1" } })
    expect((await alice.waitFor((f) => f.type === "ack" && f.id === "r2")).duplicate).toBe(true)
    const page = await runTest(liveService().room(roomId).history())
    expect(page.messages).toHaveLength(1)
    alice.close()
    bob.close()
  })

  it("broadcasts ephemeral events to the others only (sender excluded unless includeSelf), storing nothing", async () => {
    const roomId = uniqueId("ws-bc")
    const alice = await connect(await roomGrant(roomId, "alice"))
    const bob = await connect(await roomGrant(roomId, "bob"))
    alice.send({ type: "broadcast", id: "b1", event: { type: "typing", data: { on: true } } })
    const event = await bob.waitFor((f) => f.type === "event" && f.event.type === "typing")
    expect(event.event).toMatchObject({ data: { on: true }, actor: { id: "alice" } })
    expect((await alice.waitFor((f) => f.type === "ack" && f.id === "b1")).delivered).toBe(1)
    alice.send({ type: "broadcast", id: "b2", event: { type: "wave" }, includeSelf: true })
    await alice.waitFor((f) => f.type === "event" && f.event.type === "wave")
    expect(alice.frames.some((f) => f.type === "event" && f.event.type === "typing")).toBe(false)
    expect((await runTest(liveService().room(roomId).history())).messages).toHaveLength(0)
    alice.close()
    bob.close()
  })

  it("keeps one socket's frames in order when broadcasts (answered without the mailbox when it is idle) follow publishes", async () => {
    const roomId = uniqueId("ws-order")
    const alice = await connect(await roomGrant(roomId, "alice"))
    const bob = await connect(await roomGrant(roomId, "bob"))
    // Interleaved stored and ephemeral frames, sent back to back: a broadcast arriving while a publish is
    // still in the mailbox must wait for it.
    for (let index = 0; index < 4; index++) {
      alice.send({ type: "publish", message: { type: "n", data: { index } } })
      alice.send({ type: "broadcast", event: { type: "n", data: { index } } })
    }
    alice.send({ type: "broadcast", id: "last", event: { type: "end" } })
    const ack = await alice.waitFor((f) => f.type === "ack" && f.id === "last")
    expect(ack.delivered).toBe(1)
    await bob.waitFor((f) => f.type === "event" && f.event.type === "end")
    const seen = bob.frames
      .filter((f) => (f.type === "message" && f.message.type === "n") || (f.type === "event" && f.event.type === "n"))
      .map((f) => `${f.type}:${(f.type === "message" ? f.message.data : f.event.data).index}`)
    expect(seen).toEqual([0, 1, 2, 3].flatMap((index) => [`message:${index}`, `event:${index}`]))
    expect(bob.frames.find((f) => f.type === "event" && f.event.type === "n")!.event.actor).toMatchObject({ type: "user", id: "alice" })
    alice.close()
    bob.close()
  })

  it("a read-only grant subscribes but cannot publish, broadcast or set presence; nothing is stored", async () => {
    const roomId = uniqueId("ws-ro")
    const reader = await connect(await roomGrant(roomId, "reader", ["read"]))
    const writer = await connect(await roomGrant(roomId, "writer"))
    reader.send({ type: "publish", id: "p", message: { type: "x" } })
    reader.send({ type: "broadcast", id: "b", event: { type: "x" } })
    reader.send({ type: "presence", id: "s", presence: { cursor: 1 } })
    for (const id of ["p", "b", "s"]) expect((await reader.waitFor((f) => f.type === "error" && f.id === id)).tag).toBe("Forbidden")
    expect((await runTest(liveService().room(roomId).history())).messages).toHaveLength(0)
    await sleep(150)
    expect(writer.frames.some((f) => (f.type === "event" && f.event.type !== "welcome") || f.type === "presence")).toBe(false)
    // Reading still works.
    await runTest(liveService().room(roomId).publish({ type: "news" }))
    await reader.waitFor((f) => f.type === "message" && f.message.type === "news")
    reader.close()
    writer.close()
  })

  it("channels take sockets too: publish, broadcast, no presence", async () => {
    const channelId = uniqueId("ch-ws")
    const a = await connect(await channelGrant(channelId, "a"))
    const b = await connect(await channelGrant(channelId, "b"))
    expect(a.frames.find((f) => f.type === "ready")).toMatchObject({ kind: "channel", id: channelId })
    expect(a.frames.find((f) => f.type === "ready")!.members).toBeUndefined()
    a.send({ type: "publish", id: "1", message: { type: "deploy", data: { v: 2 } } })
    expect((await b.waitFor((f) => f.type === "message")).message).toMatchObject({ type: "deploy", actor: { id: "a" } })
    a.send({ type: "presence", id: "2", presence: { x: 1 } })
    expect((await a.waitFor((f) => f.type === "error" && f.id === "2")).tag).toBe("InvalidInput")
    await runTest(liveService().channel(channelId).publish({ type: "from-http" }))
    await a.waitFor((f) => f.type === "message" && f.message.type === "from-http")
    a.close()
    b.close()
  })

  it("a quiet room with connected sockets has no work scheduled soon (nothing keeps it awake)", async () => {
    const roomId = uniqueId("ws-quiet")
    const a = await connect(await roomGrant(roomId, "alice"))
    const b = await connect(await roomGrant(roomId, "bob"))
    a.send({ type: "presence", presence: { cursor: 1 } })
    await b.waitFor((f) => f.type === "presence")
    // Let the one-off directory report run.
    await eventually(async () => {
      const jobs = await runInDurableObject(stubFor("livetest", "room", roomId), (_instance, state) =>
        state.storage.sql.exec<{ name: string; run_at: number }>("SELECT name, run_at FROM _jobs").toArray(),
      )
      return jobs.every((job) => job.run_at > Date.now() + 50_000) ? jobs : undefined
    }, 3000, "only far-off jobs")
    a.close()
    b.close()
  })

  it("answers a ping with an id from the room, and the plain heartbeat from the runtime", async () => {
    const roomId = uniqueId("ws-ping")
    const socket = await connect(await roomGrant(roomId, "alice"))
    socket.send({ type: "ping", id: "hb1" })
    await socket.waitFor((f) => f.type === "pong" && f.id === "hb1")
    socket.send('{"type":"ping"}')
    await socket.waitFor((f) => f.type === "pong" && f.id === undefined)
    socket.close()
  })
})
