/**
 * Joining a room over a socket (issue 16, "fill a room"): the newcomer's member list counts each
 * member's open sockets, kept up to date as sockets are accepted and closed (the counts are no
 * longer taken with a pass over every socket per join).
 */
import { describe, expect, it } from "vitest"
import { uniqueId } from "./helpers.js"
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
})
