import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { Realtime } from "../src/Realtime.js"
import { RoomDestroyed } from "../src/RealtimeError.js"
import { uniqueId } from "./helpers.js"
import { connect } from "./live-helpers.js"
import { liveMembersInstance, liveTestInstance } from "./worker.js"

describe("members, presence and grants through the facade and the Effect accessors", () => {
  it("the Promise facade authorizes, joins, updates presence, lists members and sends to a user", async () => {
    const roomId = uniqueId("facade-live")
    // The bot joins over HTTP and is counted steps later: the default presence TTL, not livetest's 1 s.
    const room = liveMembersInstance.room(roomId)
    const grant = await room.authorize({ actor: { type: "user", id: "alice" }, permissions: ["read", "presence"] })
    const socket = await connect(grant)
    const joined = await room.join({ actor: { type: "user", id: "bot" }, metadata: { kind: "assistant" } })
    expect(joined.members.map((m) => m.id).sort()).toEqual(["user:alice", "user:bot"])
    await room.presence({ actor: { type: "user", id: "bot" }, presence: { thinking: true } })
    const update = await socket.waitFor((f) => f.type === "presence")
    expect(update.updates[0]).toMatchObject({ member: "user:bot", presence: { thinking: true } })
    expect((await room.members()).count).toBe(2)
    expect((await room.sendTo("alice", { type: "ping-user" })).delivered).toBe(1)
    await socket.waitFor((f) => f.type === "event" && f.event.type === "ping-user")
    await room.destroy()
    expect((await socket.closed).code).toBe(4004)
    await expect(room.join({ actor: { type: "user", id: "late" } })).rejects.toBeInstanceOf(RoomDestroyed)
    expect((await room.members()).count).toBe(0)
  })

  it("the facade's handler answers live routes only", async () => {
    expect(await liveTestInstance.handler(new Request("http://example.com/rooms/x/messages"))).toBeUndefined()
    const response = await liveTestInstance.handler(new Request(`http://example.com/realtime/livetest/rooms/${uniqueId("h")}/ws`, { headers: { Upgrade: "websocket" } }))
    expect(response?.status).toBe(401)
  })

  it("Realtime.room(id).join / members work as Effects", async () => {
    const roomId = uniqueId("effect-live")
    const result = await Effect.runPromise(
      Effect.gen(function* () {
        yield* Realtime.room(roomId).join({ actor: { type: "client", id: "tab-1" }, presence: { page: "/" } })
        return yield* Realtime.room(roomId).members()
      }).pipe(Effect.provide(liveTestInstance.layer)),
    )
    expect(result.members[0]).toMatchObject({ id: "client:tab-1", presence: { page: "/" } })
  })
})
