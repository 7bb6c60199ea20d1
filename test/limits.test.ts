import { SELF } from "cloudflare:test"
import { describe, expect, it } from "vitest"
import { CloseCode } from "../src/RealtimeError.js"
import { runTest, uniqueId } from "./helpers.js"
import { channelGrant, connect, liveService, openSocket, roomGrant } from "./live-helpers.js"

describe("limits and bad frames", () => {
  it("answers malformed frames with error frames and stores nothing; repeated abuse closes with 1008", async () => {
    const roomId = uniqueId("bad-frames")
    const socket = await connect(await roomGrant(roomId, "alice"))
    socket.send("not json")
    expect(await socket.waitFor((f) => f.type === "error")).toMatchObject({ tag: "InvalidInput" })
    socket.send({ type: "publish", id: "x1", message: { type: "" } })
    expect(await socket.waitFor((f) => f.type === "error" && f.id === "x1")).toMatchObject({ tag: "InvalidInput" })
    socket.send({ type: "teleport", id: "x2" })
    await socket.waitFor((f) => f.type === "error" && f.id === "x2")
    socket.socket.send(new Uint8Array([1, 2, 3]))
    await socket.waitFor((f) => f.type === "error" && /binary/.test(f.message))
    expect(socket.frames.filter((f) => f.type === "error")).toHaveLength(4)
    // A client cannot claim another actor: an `actor` field in the frame is not part of the protocol.
    socket.send({ type: "publish", id: "x3", message: { type: "chat", actor: { type: "user", id: "bob" } } })
    const ack = await socket.waitFor((f) => f.type === "ack" && f.id === "x3")
    expect(ack.message.actor).toEqual({ type: "user", id: "alice" })
    socket.send("{")
    expect((await socket.closed).code).toBe(CloseCode.policy)
    const page = await runTest(liveService().room(roomId).history())
    expect(page.messages.map((m) => m.actor.id)).toEqual(["alice"])
  })

  it("refuses a frame over maxFrameBytes before parsing, closing with 1009", async () => {
    const roomId = uniqueId("big-frame")
    const socket = await connect(await roomGrant(roomId, "alice"))
    socket.send({ type: "publish", id: "big", message: { type: "x", data: "é".repeat(1500) } })
    const error = await socket.waitFor((f) => f.type === "error")
    expect(error).toMatchObject({ tag: "PayloadTooLarge" })
    expect((await socket.closed).code).toBe(CloseCode.tooBig)
    expect((await runTest(liveService().room(roomId).history())).messages).toHaveLength(0)
  })

  it("rate-limits each connection with a token bucket, then closes with 4009", async () => {
    const roomId = uniqueId("rate")
    const socket = await connect(await roomGrant(roomId, "alice"))
    const other = await connect(await roomGrant(roomId, "bob"))
    for (let i = 0; i < 40; i++) socket.send({ type: "publish", message: { type: "spam", data: i } })
    expect((await socket.closed).code).toBe(CloseCode.rateLimited)
    const limited = socket.frames.filter((f) => f.type === "error" && f.tag === "LimitExceeded")
    expect(limited.length).toBeGreaterThanOrEqual(19)
    const stored = (await runTest(liveService().room(roomId).history({ limit: 100 }))).messages.length
    // burst 10 (+ at most a token or two refilled while sending)
    expect(stored).toBeGreaterThanOrEqual(10)
    expect(stored).toBeLessThanOrEqual(12)
    // The other connection is not limited by alice's burst.
    other.send({ type: "publish", id: "ok", message: { type: "fine" } })
    await other.waitFor((f) => f.type === "ack" && f.id === "ok")
    other.close()
  })

  it("refuses the connection after maxConnections with 503 and LimitExceeded", async () => {
    const channelId = uniqueId("max-conn")
    const sockets = []
    for (let i = 0; i < 3; i++) sockets.push(await connect(await channelGrant(channelId, `u${i}`)))
    const { response, socket } = await openSocket(await channelGrant(channelId, "u3"))
    expect(socket).toBeUndefined()
    expect(response.status).toBe(503)
    expect(await response.json()).toMatchObject({ error: { _tag: "LimitExceeded", limit: "connections" } })
    sockets[0].close()
    await sockets[0].closed
    const again = await connect(await channelGrant(channelId, "u3"))
    again.close()
    for (const s of sockets.slice(1)) s.close()
  })

  it("refuses a non-upgrade request on the socket route; unknown paths under the prefix are the app's", async () => {
    const grant = await roomGrant(uniqueId("plain"), "alice")
    const plain = await SELF.fetch(`http://example.com${grant.url}`)
    expect(plain.status).toBe(400)
    // Not a live route: the live routes pass it on, and the example app has nothing there.
    const unknown = await SELF.fetch("http://example.com/realtime/livetest/tables/x/ws", { headers: { Upgrade: "websocket" } })
    expect(unknown.status).toBe(404)
  })
})

describe("server-side targeting and hooks", () => {
  it("onJoin welcomes, onMessage echoes, publishes and reports failures, onClose runs", async () => {
    const roomId = uniqueId("hooks")
    const alice = await connect(await roomGrant(roomId, "alice"))
    const welcome = await alice.waitFor((f) => f.type === "event" && f.event.type === "welcome")
    expect(welcome.event.data).toEqual({ actor: "alice" })
    // The welcome comes after ready.
    expect(alice.frames.findIndex((f) => f.type === "ready")).toBeLessThan(alice.frames.indexOf(welcome))
    alice.send({ type: "send", id: "e1", event: { type: "echo", data: { hello: 1 } } })
    expect((await alice.waitFor((f) => f.type === "event" && f.event.type === "echo")).event.data).toEqual({ hello: 1 })
    alice.send({ type: "send", id: "s1", event: { type: "shout", data: "hey" } })
    const shouted = await alice.waitFor((f) => f.type === "message" && f.message.type === "shouted")
    expect(shouted.message).toMatchObject({ data: { by: "alice", text: "hey" }, actor: { id: "alice" } })
    alice.send({ type: "send", id: "f1", event: { type: "fail" } })
    expect((await alice.waitFor((f) => f.type === "error" && f.tag === "HookFailed")).message).toContain("refused by hook")
    const { closedConnections } = await import("./worker.js")
    const connectionId = alice.frames.find((f) => f.type === "ready")!.connectionId
    alice.close()
    await alice.closed
    const { eventually } = await import("./live-helpers.js")
    await eventually(() => (closedConnections.includes(connectionId) ? true : undefined), 3000, "onClose")
  })

  it("send frames without an onMessage hook get an error frame", async () => {
    const channelId = uniqueId("no-hook")
    const grant = await runTest(
      (await import("./helpers.js")).service("test").channel(channelId).authorize({ actor: { type: "user", id: "a" } }),
    )
    const socket = await connect(grant)
    socket.send({ type: "send", id: "n", event: { type: "x" } })
    expect((await socket.waitFor((f) => f.type === "error" && f.id === "n")).tag).toBe("InvalidInput")
    socket.close()
  })

  it("sendTo reaches every connection of one user and nobody else", async () => {
    const roomId = uniqueId("send-to")
    const aliceGrant = await roomGrant(roomId, "alice")
    const tab1 = await connect(aliceGrant)
    const tab2 = await connect(aliceGrant)
    const bob = await connect(await roomGrant(roomId, "bob"))
    const result = await runTest(liveService().room(roomId).sendTo("alice", { type: "notice", data: { unread: 3 } }))
    expect(result.delivered).toBe(2)
    for (const tab of [tab1, tab2]) expect((await tab.waitFor((f) => f.type === "event" && f.event.type === "notice")).event.data).toEqual({ unread: 3 })
    await runTest(liveService().room(roomId).publish({ type: "barrier" }))
    await bob.waitFor((f) => f.type === "message" && f.message.type === "barrier")
    expect(bob.frames.some((f) => f.type === "event" && f.event.type === "notice")).toBe(false)
    tab1.close()
    tab2.close()
    bob.close()
  })
})
