/**
 * R4 — resume and continuity across a restore: a connected client is told at once, and a client
 * resuming with a position from before the restore gets an explicit discontinuity, never a gap.
 */
import { describe, expect, it } from "vitest"
import { runTest, uniqueId } from "./helpers.js"
import { connect, liveService, roomGrant } from "./live-helpers.js"

describe("R4: resume and continuity across restore", () => {
  it("a restore sends connected clients a discontinuity, and an old position resumes with one", async () => {
    const roomId = uniqueId("restore-resume")
    const room = liveService().room(roomId)
    const grant = await roomGrant(roomId, "alice")
    for (const n of [1, 2]) await runTest(room.publish({ type: "m", data: n }))
    const snapshot = await runTest(room.snapshot({ label: "two" }))
    const watcher = await connect(grant)
    for (const n of [3, 4]) await runTest(room.publish({ type: "m", data: n }))
    const last = await watcher.waitFor((f) => f.type === "message" && f.message.data === 4)

    const restored = await runTest(room.restore({ snapshotId: snapshot.id }))
    const notice = await watcher.waitFor((f) => f.type === "discontinuity")
    expect(notice).toMatchObject({ reason: "epoch", since: `${last.message.epoch}:4`, epoch: restored.epoch, seq: 2 })
    watcher.close()

    await runTest(room.publish({ type: "m", data: 5 }))
    const resumed = await connect(grant, `?since=${last.message.epoch}:${last.message.seq}`)
    const frames = resumed.frames.filter((f) => f.type !== "event" && f.type !== "joined" && f.type !== "presence")
    expect(frames[0]).toMatchObject({ type: "discontinuity", reason: "epoch", epoch: restored.epoch })
    expect(resumed.frames.find((f) => f.type === "ready")).toMatchObject({ resumed: false, epoch: restored.epoch, seq: 3 })
    // Nothing from the old life is replayed as if it were current.
    expect(resumed.frames.filter((f) => f.type === "message").map((f) => f.message.data)).not.toContain(3)
    resumed.close()
  })
})
