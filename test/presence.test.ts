import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test"
import { Schema } from "effect"
import { describe, expect, it } from "vitest"
import { declareRealtime, instanceConfig } from "../src/Config.js"
import { makeRealtime } from "../src/Realtime.js"
import { applyMemberFrame } from "../src/client/MembersView.js"
import { Member as MemberSchema, type Member, type ServerFrame } from "../src/schema/Protocol.js"
import { failureOf, runExit, runTest, uniqueId } from "./helpers.js"
import { connect, eventually, liveService, roomGrant, stubFor } from "./live-helpers.js"

const stubOf = (roomId: string) => stubFor("livetest", "room", roomId)

/** `livemembers` (test/worker.ts): livetest with the default 60 s presence TTL, for HTTP members over several steps. */
const membersService = () => makeRealtime(instanceConfig("livemembers"), env as unknown as Record<string, unknown>)
const membersGrant = (roomId: string, actorId: string) => runTest(membersService().room(roomId).authorize({ actor: { type: "user", id: actorId }, ttlSeconds: 60 }))

type Frame = { type: string; [key: string]: any }
/** The member `id` in a coalesced `members` frame's `joined` list. */
const joinedIn = (frame: Frame, id: string) => frame.type === "members" && frame.joined.some((member: { id: string }) => member.id === id)
/** The `left` entry of member `id` in a `members` frame. */
const leftIn = (frame: Frame, id: string) => frame.type === "members" && frame.left.some((entry: { member: { id: string } }) => entry.member.id === id)
const leftEntry = (frame: Frame, id: string) => frame.left.find((entry: { member: { id: string } }) => entry.member.id === id)

describe("members and presence", () => {
  it("join, presence (partial merge), members and leave over HTTP, with room metadata on join", async () => {
    const roomId = uniqueId("members")
    // Alice must outlive the steps up to her leave: the default TTL, not livetest's 1 s.
    const room = membersService().room(roomId)
    await runTest(room.metadata({ metadata: { title: "Planning" } }))
    const alice = { type: "user", id: "alice", name: "Alice" } as const
    const joined = await runTest(room.join({ actor: alice, metadata: { role: "editor" }, presence: { cursor: { x: 1, y: 2 }, typing: false } }))
    expect(joined.joined).toBe(true)
    expect(joined.room.metadata).toEqual({ title: "Planning" })
    expect(joined.member).toMatchObject({ id: "user:alice", actor: alice, metadata: { role: "editor" }, via: "http", connections: 0 })
    expect(joined.member.expiresAt).not.toBeNull()
    const updated = await runTest(room.presence({ actor: alice, presence: { typing: true, cursor: null, selection: [1, 3] } }))
    expect(updated.presence).toEqual({ typing: true, selection: [1, 3] })
    await runTest(room.join({ actor: { type: "user", id: "bob" } }))
    const list = await runTest(room.members())
    expect(list.count).toBe(2)
    expect(list.members.find((m) => m.id === "user:alice")!.presence).toEqual({ typing: true, selection: [1, 3] })
    // Presence writes no history.
    expect((await runTest(room.history())).messages).toHaveLength(0)
    expect(await runTest(room.leave({ actor: alice }))).toMatchObject({ left: true })
    expect(await runTest(room.leave({ actor: alice }))).toMatchObject({ left: false, member: null })
    expect((await runTest(room.members())).members.map((m) => m.id)).toEqual(["user:bob"])
  })

  it("refuses an anonymous join and bad presence, changing nothing", async () => {
    const room = liveService().room(uniqueId("members-bad"))
    expect(failureOf(await runExit(room.join({})))._tag).toBe("InvalidInput")
    expect(failureOf(await runExit(room.presence({ actor: { type: "user", id: "a" }, presence: [1, 2] as never })))._tag).toBe("InvalidInput")
    expect(failureOf(await runExit(room.join({ actor: { type: "user", id: "a" }, metadata: "x" as never })))._tag).toBe("InvalidInput")
    expect((await runTest(room.members())).count).toBe(0)
    expect(failureOf(await runExit(room.sendTo("", { type: "x" })))._tag).toBe("InvalidInput")
    expect(failureOf(await runExit(room.sendTo("a", { type: "" })))._tag).toBe("InvalidInput")
    expect(failureOf(await runExit(room.authorize({ actor: { type: "user", id: "a" }, ttlSeconds: 0 })))._tag).toBe("InvalidInput")
    expect(failureOf(await runExit(room.authorize({ actor: { type: "user", id: "a" }, permissions: ["admin"] as never })))._tag).toBe("InvalidInput")
    expect(failureOf(await runExit(room.authorize({} as never)))._tag).toBe("InvalidInput")
  })

  it("a destroyed room refuses joins and presence", async () => {
    const room = liveService().room(uniqueId("members-destroyed"))
    await runTest(room.join({ actor: { type: "user", id: "a" } }))
    await runTest(room.destroy())
    expect(failureOf(await runExit(room.join({ actor: { type: "user", id: "b" } })))._tag).toBe("RoomDestroyed")
    expect(failureOf(await runExit(room.presence({ actor: { type: "user", id: "a" }, presence: { x: 1 } })))._tag).toBe("RoomDestroyed")
    expect((await runTest(room.members())).count).toBe(0)
  })

  it("decodes slim socket member entries whole, and refuses one whose id names no actor", () => {
    const decode = Schema.decodeUnknownEither(MemberSchema)
    const at = "2026-01-01T00:00:00.000Z"
    expect(Schema.decodeUnknownSync(MemberSchema)({ id: "client:tab:1", joinedAt: at })).toEqual({
      id: "client:tab:1", actor: { type: "client", id: "tab:1" }, metadata: {}, presence: {}, via: "socket", joinedAt: at, lastSeenAt: at, expiresAt: null, connections: 1,
    })
    const named = { type: "user", id: "ada", name: "Ada" } as const
    expect(Schema.decodeUnknownSync(MemberSchema)({ id: "user:ada", actor: named, via: "http", joinedAt: at, expiresAt: at, connections: 0 })).toMatchObject({ actor: named, via: "http", expiresAt: at, connections: 0 })
    for (const id of ["nobody", "anonymous:x", "user:", ":x"]) expect(decode({ id, joinedAt: at })._tag).toBe("Left")
  })

  it("socket members join on connect, get live members (joined/left) and presence frames, and leave with their last socket", async () => {
    const roomId = uniqueId("members-ws")
    // The bot joins over HTTP and must still be a member at the end: the default TTL, not livetest's 1 s.
    const room = membersService().room(roomId)
    const watcher = await connect(await membersGrant(roomId, "watcher"))
    const aliceGrant = await membersGrant(roomId, "alice")
    const tab1 = await connect(aliceGrant)
    const tab2 = await connect(aliceGrant)
    const joined = await watcher.waitFor((f) => joinedIn(f, "user:alice"))
    // On the wire the entry is slim (fields at their usual value left out); decoding fills them in.
    const wire = joined.joined.find((m: { id: string }) => m.id === "user:alice")
    for (const usual of ["actor", "metadata", "presence", "via", "expiresAt"]) expect(wire).not.toHaveProperty(usual)
    expect(Schema.decodeUnknownSync(MemberSchema)(wire)).toMatchObject({
      id: "user:alice", actor: { type: "user", id: "alice" }, metadata: {}, presence: {}, via: "socket",
      joinedAt: wire.joinedAt, lastSeenAt: wire.lastSeenAt ?? wire.joinedAt, expiresAt: null, connections: wire.connections ?? 1,
    })
    expect((await runTest(room.members())).members.find((m) => m.id === "user:alice")!.connections).toBe(2)
    tab1.send({ type: "presence", id: "p1", presence: { cursor: { x: 5 } } })
    await tab1.waitFor((f) => f.type === "ack" && f.id === "p1")
    const update = await watcher.waitFor((f) => f.type === "presence")
    expect(update.updates).toEqual([{ member: "user:alice", actor: { type: "user", id: "alice" }, presence: { cursor: { x: 5 } } }])
    // A HTTP join from the server side reaches the sockets too.
    await runTest(room.join({ actor: { type: "service", id: "bot" } }))
    await watcher.waitFor((f) => joinedIn(f, "service:bot"))
    // Announcements go out in order, one flush after another: a second join of alice would have come
    // before the bot's (no real-time wait needed to know it did not).
    expect(watcher.frames.filter((f) => joinedIn(f, "user:alice"))).toHaveLength(1)
    tab1.close()
    await tab1.closed
    // A flush sends its joins and leaves before its presence: once tab2's presence is seen, a leave
    // caused by tab1's close would have been seen too.
    tab2.send({ type: "presence", id: "p2", presence: { cursor: { x: 6 } } })
    await watcher.waitFor((f) => f.type === "presence" && f.updates.some((u: { presence: { cursor?: { x: number } } }) => u.presence.cursor?.x === 6))
    expect(watcher.frames.some((f) => leftIn(f, "user:alice"))).toBe(false)
    tab2.close()
    const left = await watcher.waitFor((f) => leftIn(f, "user:alice"))
    expect(leftEntry(left, "user:alice").reason).toBe("disconnect")
    expect(left.count).toBe(2)
    expect((await runTest(room.members())).members.map((m) => m.id).sort()).toEqual(["service:bot", "user:watcher"])
    watcher.close()
  })

  it("announces a burst of joins and leaves in coalesced members frames, and pages the member list after ready", async () => {
    // Its own instance with the default 60 s presence TTL: under the livetest instance's 1 s TTL a loaded machine let the
    // HTTP members expire before the late socket connected, so `ready` counted fewer than the 100 it pages.
    const rt = makeRealtime(declareRealtime({ name: uniqueId("fill"), presenceIntervalMs: 100 }).config, env as unknown as Record<string, unknown>)
    const roomId = uniqueId("members-fill")
    const room = rt.room(roomId)
    const grantFor = (actorId: string) => runTest(room.authorize({ actor: { type: "user", id: actorId }, ttlSeconds: 60 }))
    const watcher = await connect(await grantFor("watcher"))
    const ids = Array.from({ length: 12 }, (_, index) => `filler-${index}`)
    await Promise.all(ids.map((id) => runTest(room.join({ actor: { type: "user", id } }))))
    await runTest(room.leave({ actor: { type: "user", id: "filler-0" } }))
    await watcher.waitFor((f) => leftIn(f, "user:filler-0"))
    const announced = watcher.frames.filter((f) => f.type === "members")
    // 12 joins and a leave, one frame each before; now one frame per 100 ms interval (fewer than the changes even
    // when a loaded machine spreads the parallel joins over several intervals).
    expect(announced.length).toBeLessThan(13)
    // Folding the watcher's frames gives the room's member list (filler-0 may have joined and left within one frame).
    const folded = () => watcher.frames.reduce((list, frame) => applyMemberFrame(list, frame as ServerFrame), [] as ReadonlyArray<Member>).map((m) => m.id).sort()
    await eventually(async () => {
      const stored = (await runTest(room.members())).members.map((m) => m.id).sort()
      return JSON.stringify(folded()) === JSON.stringify(stored) ? true : undefined
    })
    expect(folded()).not.toContain("user:filler-0")
    const last = watcher.frames.filter((f) => f.type === "members").at(-1)!
    expect(last.count).toBe(folded().length)
    // 110 more members: a newcomer's ready carries 100 and the count, the rest follow at once.
    await Promise.all(Array.from({ length: 110 }, (_, index) => runTest(room.join({ actor: { type: "user", id: `more-${index}` } }))))
    const late = await connect(await grantFor("late"))
    const ready = await late.waitFor((f) => f.type === "ready")
    expect(ready.members).toHaveLength(100)
    // watcher + 11 fillers + 110 more + late
    expect(ready.memberCount).toBe(123)
    const pages = await eventually(() => {
      const after = late.frames.slice(late.frames.indexOf(ready) + 1).filter((f) => f.type === "members" && f.left.length === 0)
      return after.length > 0 ? after : undefined
    })
    expect(pages[0]!.joined).toHaveLength(ready.memberCount - 100)
    const listed = new Set([...ready.members, ...pages[0]!.joined].map((m: { id: string }) => m.id))
    expect(listed.size).toBe(ready.memberCount)
    expect(listed.has("user:late")).toBe(true)
    watcher.close()
    late.close()
  })

  it("coalesces a burst of presence updates into at most one fan-out per interval, the last value winning", async () => {
    const roomId = uniqueId("presence-burst")
    const watcher = await connect(await roomGrant(roomId, "watcher"))
    const mover = await connect(await roomGrant(roomId, "mover"))
    await watcher.waitFor((f) => joinedIn(f, "user:mover"))
    // 10 moves within the burst limit (10) of the rate limiter, well inside one 100 ms interval.
    for (let x = 1; x <= 10; x++) mover.send({ type: "presence", presence: { cursor: { x } } })
    const last = await watcher.waitFor((f) => f.type === "presence" && f.updates.some((u: { presence: { cursor: { x: number } } }) => u.presence.cursor.x === 10))
    const frames = watcher.frames.filter((f) => f.type === "presence")
    // The first move goes out at once, the other nine in one batch at the end of the interval.
    expect(frames.length).toBeLessThanOrEqual(2)
    expect(last.updates).toHaveLength(1)
    expect(mover.frames.filter((f) => f.type === "error")).toHaveLength(0)
    // Nothing stored in history, and the presence was persisted with the batch.
    expect((await runTest(liveService().room(roomId).history())).messages).toHaveLength(0)
    const stored = await runInDurableObject(stubOf(roomId), (_instance, state) =>
      state.storage.sql.exec<{ presence: string }>("SELECT presence FROM members WHERE key = 'user:mover'").one(),
    )
    expect(JSON.parse(stored.presence)).toEqual({ cursor: { x: 10 } })
    watcher.close()
    mover.close()
  })

  it("directory member counts follow joins and leaves", async () => {
    // An instance of its own, so other tests' members do not move the totals.
    const roomId = uniqueId("members-count")
    const rt = makeRealtime(declareRealtime({ name: "livecount" }).config, env as unknown as Record<string, unknown>)
    const stub = stubFor("livecount", "room", roomId)
    const membersNow = () =>
      eventually(async () => {
        await runDurableObjectAlarm(stub)
        return (await runTest(rt.stats())).members
      })
    await runTest(rt.room(roomId).join({ actor: { type: "user", id: "a" } }))
    await runTest(rt.room(roomId).join({ actor: { type: "user", id: "b" } }))
    await eventually(async () => ((await membersNow()) === 2 ? true : undefined), 5000, "count of 2")
    await runTest(rt.room(roomId).leave({ actor: { type: "user", id: "a" } }))
    await eventually(async () => ((await membersNow()) === 1 ? true : undefined), 5000, "count of 1")
  })
})
