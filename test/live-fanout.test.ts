import { describe, expect, it } from "vitest"
import { runTest, service, uniqueId } from "./helpers.js"
import { connect, eventually, type TestSocket } from "./live-helpers.js"

describe("fan-out to many sockets", () => {
  it("delivers every message to every socket of a room, in order, once", async () => {
    const roomId = uniqueId("fanout")
    // livetest allows 3 connections per room; "other" has the default 10,000.
    const rt = service("other")
    const sockets: Array<TestSocket> = []
    const grants = await Promise.all(
      Array.from({ length: 40 }, (_, i) => runTest(rt.room(roomId).authorize({ actor: { type: "user", id: `u${i}` }, permissions: ["read"] }))),
    )
    for (const grant of grants) sockets.push(await connect(grant))
    const started = performance.now()
    for (let n = 1; n <= 25; n++) await runTest(rt.room(roomId).publish({ type: "n", data: n }))
    await eventually(() => (sockets.every((s) => s.frames.filter((f) => f.type === "message").length === 25) ? true : undefined), 10_000, "all deliveries")
    const elapsed = performance.now() - started
    for (const socket of sockets) expect(socket.frames.filter((f) => f.type === "message").map((f) => f.message.data)).toEqual(Array.from({ length: 25 }, (_, i) => i + 1))
    console.log(`fan-out: 25 publishes x 40 sockets = 1000 deliveries in ${elapsed.toFixed(0)} ms (workerd, test pool)`)
    for (const socket of sockets) socket.close()
  })
})
