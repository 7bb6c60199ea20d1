import { describe, expect, it } from "vitest"
import { runTest, uniqueId } from "./helpers.js"
import { connect, liveService, openSocket, roomGrant } from "./live-helpers.js"

describe("resume with ?since=", () => {
  it("after a dropped socket, replays exactly what was missed, in order, then ready, then live", async () => {
    const roomId = uniqueId("resume")
    const room = liveService().room(roomId)
    const grant = await roomGrant(roomId, "alice")
    const first = await connect(grant)
    await runTest(room.publish({ type: "m", data: 1 }))
    await runTest(room.publish({ type: "m", data: 2 }))
    const seen = await first.waitFor((f) => f.type === "message" && f.message.data === 2)
    first.close()
    await first.closed
    // Missed while away.
    for (const n of [3, 4, 5]) await runTest(room.publish({ type: "m", data: n }))
    const second = await connect(grant, `?since=${seen.message.epoch}:${seen.message.seq}`)
    const types = second.frames.filter((f) => f.type !== "event").map((f) => (f.type === "message" ? f.message.data : f.type))
    expect(types).toEqual([3, 4, 5, "ready"])
    expect(second.frames.find((f) => f.type === "ready")).toMatchObject({ resumed: true, replayed: 3, seq: 5 })
    await runTest(room.publish({ type: "m", data: 6 }))
    await second.waitFor((f) => f.type === "message" && f.message.data === 6)
    const delivered = second.frames.filter((f) => f.type === "message").map((f) => f.message.seq)
    expect(delivered).toEqual([3, 4, 5, 6])
    second.close()
  })

  it("loses and doubles nothing when publishes race the reconnect", async () => {
    const roomId = uniqueId("resume-race")
    const room = liveService().room(roomId)
    const grant = await roomGrant(roomId, "alice")
    const publishing = (async () => {
      for (let n = 1; n <= 8; n++) await runTest(room.publish({ type: "m", data: n }))
    })()
    const socket = await connect(grant, "?since=0")
    await publishing
    await socket.waitFor((f) => f.type === "message" && f.message.data === 8)
    expect(socket.frames.filter((f) => f.type === "message").map((f) => f.message.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8])
    const readyIndex = socket.frames.findIndex((f) => f.type === "ready")
    expect(socket.frames.slice(0, readyIndex).every((f) => f.type === "message")).toBe(true)
    socket.close()
  })

  it("says so with a discontinuity frame when history was pruned past the position", async () => {
    const roomId = uniqueId("resume-pruned")
    const room = liveService().room(roomId)
    const grant = await roomGrant(roomId, "alice")
    const { message } = await runTest(room.publish({ type: "m", data: 0 }))
    // historyLimit is 10 on livetest.
    for (let n = 1; n <= 15; n++) await runTest(room.publish({ type: "m", data: n }))
    const socket = await connect(grant, `?since=${message.epoch}:${message.seq}`)
    expect(socket.frames[0]).toMatchObject({ type: "discontinuity", reason: "pruned", epoch: message.epoch, seq: 16 })
    expect(socket.frames.find((f) => f.type === "ready")).toMatchObject({ resumed: false, replayed: 0, seq: 16 })
    expect(socket.frames.some((f) => f.type === "message")).toBe(false)
    socket.close()
  })

  it("says so for another epoch (history deleted) and for a position ahead of the room", async () => {
    const roomId = uniqueId("resume-epoch")
    const room = liveService().room(roomId)
    const grant = await roomGrant(roomId, "alice")
    await runTest(room.publish({ type: "m" }))
    const a = await connect(grant, "?since=0123456789ab:1")
    expect(a.frames[0]).toMatchObject({ type: "discontinuity", reason: "epoch" })
    a.close()
    const state = await runTest(room.state())
    const b = await connect(grant, `?since=${state.epoch}:99`)
    expect(b.frames[0]).toMatchObject({ type: "discontinuity", reason: "ahead", seq: 1 })
    b.close()
    const { response } = await openSocket(grant, "?since=not-a-position")
    expect(response.status).toBe(400)
  })

  it("tells a client resuming into a destroyed room, then closes with 4004", async () => {
    const roomId = uniqueId("resume-destroyed")
    const room = liveService().room(roomId)
    const grant = await roomGrant(roomId, "alice")
    const live = await connect(grant)
    const { message } = await runTest(room.publish({ type: "m" }))
    await runTest(room.destroy())
    expect((await live.closed).code).toBe(4004)
    const { socket } = await openSocket(grant, `?since=${message.epoch}:${message.seq}`)
    expect((await socket!.closed).code).toBe(4004)
    expect(socket!.frames[0]).toMatchObject({ type: "discontinuity", reason: "destroyed" })
    expect(socket!.frames[1]).toMatchObject({ type: "error", tag: "RoomDestroyed" })
  })
})
