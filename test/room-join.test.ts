/**
 * Joining a room over a socket (issue 16, "fill a room"): the newcomer's member list counts each
 * member's open sockets, kept up to date as sockets are accepted and closed (the counts are no
 * longer taken with a pass over every socket per join).
 */
import { env } from "cloudflare:test"
import { describe, expect, it } from "vitest"
import { declareRealtime } from "../src/Config.js"
import { makeRealtime } from "../src/Realtime.js"
import { runTest, uniqueId } from "./helpers.js"
import { connect, eventually, roomGrant, type TestSocket } from "./live-helpers.js"

type Entry = { readonly id: string; readonly connections?: number }

/** Connect as `actor` and read the member list of its `ready` (slim entries: no `connections` means 1). */
const listSeenBy = async (roomId: string, actor: string): Promise<{ socket: TestSocket; alice: Entry | undefined }> => {
  const socket = await connect(await roomGrant(roomId, actor))
  const ready = socket.frames.find((frame) => frame.type === "ready")!
  return { socket, alice: (ready.members as ReadonlyArray<Entry>).find((member) => member.id === "user:alice") }
}

describe("room: a newcomer's member list", () => {
  it("counts a member's open sockets, as sockets are accepted and after one closes", async () => {
    // The test instance takes 3 connections per room.
    const roomId = uniqueId("room-join-counts")
    const first = await connect(await roomGrant(roomId, "alice"))
    const second = await connect(await roomGrant(roomId, "alice"))
    const bob = await listSeenBy(roomId, "bob")
    expect(bob.alice?.connections).toBe(2)
    bob.socket.close()
    second.close()
    await Promise.all([bob.socket.closed, second.closed])
    let attempt = 0
    const after = await eventually(
      async () => {
        const seen = await listSeenBy(roomId, `carol-${attempt++}`).catch(() => undefined)
        seen?.socket.close()
        await seen?.socket.closed
        return seen !== undefined && (seen.alice?.connections ?? 1) === 1 ? seen.alice : undefined
      },
      5000,
      "alice counted with one socket after the close",
    )
    expect(after).toMatchObject({ id: "user:alice" })
    first.close()
  })

  it("a newcomer is not sent again the joins its member list already held, and learns every later one", async () => {
    // A 1 s flush interval: the joins after the first land in one interval, whose members frame reaches
    // the newcomers of that interval too.
    const rt = makeRealtime(
      declareRealtime({ name: uniqueId("joins"), presenceIntervalMs: 1000 }).config,
      env as unknown as Record<string, unknown>,
    )
    const room = rt.room(uniqueId("room-join-deltas"))
    const ids = ["m0", "m1", "m2", "m3", "m4"]
    const sockets: Array<TestSocket> = []
    for (const id of ids) sockets.push(await connect(await runTest(room.authorize({ actor: { type: "user", id }, ttlSeconds: 60 }))))
    const everyone = ids.map((id) => `user:${id}`).sort()
    const seenBy = (socket: TestSocket) => {
      const ready = socket.frames.find((frame) => frame.type === "ready")!
      const listed = (ready.members as ReadonlyArray<{ id: string }>).map((member) => member.id)
      const announced = socket.frames
        .filter((frame) => frame.type === "members")
        .flatMap((frame) => (frame.joined as ReadonlyArray<{ id: string }>).map((member) => member.id))
      return { listed, announced }
    }
    await eventually(
      () =>
        sockets.every((socket) => {
          const { listed, announced } = seenBy(socket)
          return JSON.stringify([...new Set([...listed, ...announced])].sort()) === JSON.stringify(everyone)
        })
          ? true
          : undefined,
      10_000,
      "every socket knows every member",
    )
    for (const socket of sockets) {
      const { listed, announced } = seenBy(socket)
      expect(announced.filter((id) => listed.includes(id))).toEqual([])
      expect(new Set(announced).size).toBe(announced.length)
    }
    for (const socket of sockets) socket.close()
  })
})
