/**
 * `stats()` counts what is stored and connected (seed 002: "counts for rooms, active members, and
 * messages for the Realtime instance"), whichever way a room got its members, messages, documents
 * and connections, and after sockets close, objects hibernate or restart.
 */
import { abortAllDurableObjects, env, evictDurableObject, SELF } from "cloudflare:test"
import { Effect } from "effect"
import { describe, expect, it, vi } from "vitest"
import * as Y from "yjs"
import { declareRealtime } from "../src/Config.js"
import { makeRealtime } from "../src/Realtime.js"
import type { InstanceStats } from "../src/schema/Room.js"
import { toBase64 } from "./crdt-helpers.js"
import { runTest, uniqueId } from "./helpers.js"
import { connect, stubFor } from "./live-helpers.js"

/** A fresh instance (declared in this isolate, which hosts the objects in the test pool). */
const freshInstance = (options: { readonly historyLimit?: number; readonly presenceTtlMs?: number; readonly heartbeat?: number } = {}) => {
  const name = uniqueId("stats")
  return { name, rt: makeRealtime(declareRealtime({ name, ...options }).config, env as unknown as Record<string, unknown>) }
}

const statsOf = (rt: ReturnType<typeof freshInstance>["rt"]) => runTest(rt.stats())

/** Reports reach the directory within about 200 ms of a change. */
const expectStats = (rt: ReturnType<typeof freshInstance>["rt"], expected: Partial<InstanceStats>, timeout = 5_000) =>
  vi.waitFor(async () => expect(await statsOf(rt)).toMatchObject(expected), { timeout, interval: 50 })

describe("stats(): members and rooms", () => {
  it("a member who joins through presence() counts, and so does its room; leave() takes it out", async () => {
    const { rt } = freshInstance()
    await runTest(rt.room("cursor-room").presence({ actor: { type: "user", id: "ada" }, presence: { cursor: 12 } }))
    await expectStats(rt, { rooms: 1, members: 1, messages: 0 })
    await runTest(rt.room("cursor-room").presence({ actor: { type: "user", id: "bob" }, presence: { cursor: 3 } }))
    await expectStats(rt, { rooms: 1, members: 2 })
    await runTest(rt.room("cursor-room").leave({ actor: { type: "user", id: "ada" } }))
    await expectStats(rt, { rooms: 1, members: 1 })
  })

  it("HTTP members that expire leave the count", async () => {
    const { rt } = freshInstance({ presenceTtlMs: 300 })
    const join = () => runTest(rt.room("lobby").join({ actor: { type: "user", id: "ada" } }))
    // Counted while it refreshes: each poll joins again (a refresh), so a loaded host that reads the stats only after
    // the 300 ms TTL (the report alone takes ~200 ms) still sees the member before it lapses.
    await vi.waitFor(
      async () => {
        await join()
        expect(await statsOf(rt)).toMatchObject({ members: 1 })
      },
      { timeout: 5_000, interval: 50 },
    )
    await expectStats(rt, { rooms: 1, members: 0 })
  })

  it("a CRDT room with document updates counts as a room", async () => {
    const { rt } = freshInstance()
    const doc = new Y.Doc()
    doc.getText("content").insert(0, "hello")
    await runTest(rt.crdtRoom("doc_123").applyYjsUpdate({ updateBase64: toBase64(Y.encodeStateAsUpdate(doc)), clientId: "browser_tab_1" }))
    await expectStats(rt, { rooms: 1, channels: 0, members: 0, messages: 0 })
  })
})

describe("stats(): messages are what history holds", () => {
  it("drops after destroy({ deleteHistory: true }), keeps kept history, follows historyLimit, survives restarts", async () => {
    const { rt } = freshInstance({ historyLimit: 5 })
    await runTest(Effect.forEach([1, 2, 3], (i) => rt.room("a").publish({ type: "n", data: i })))
    await runTest(Effect.forEach([1, 2], (i) => rt.channel("feed").publish({ type: "n", data: i })))
    await runTest(Effect.forEach([1, 2, 3, 4, 5, 6, 7, 8], (i) => rt.room("pruned").publish({ type: "n", data: i })))
    // 3 + 2 + the 5 that historyLimit keeps of 8.
    await expectStats(rt, { rooms: 2, channels: 1, messages: 10 })
    expect((await runTest(rt.room("pruned").history({ limit: 100 }))).messages).toHaveLength(5)
    await runTest(rt.room("a").destroy({ deleteHistory: true, deleteSnapshots: true }))
    await expectStats(rt, { rooms: 1, channels: 1, messages: 7 })
    // Destroyed without deleting history: its messages are still stored (and readable).
    await runTest(rt.channel("feed").destroy())
    await expectStats(rt, { rooms: 1, channels: 0, messages: 7 })
    await abortAllDurableObjects()
    expect(await statsOf(rt)).toMatchObject({ rooms: 1, channels: 0, messages: 7 })
  })

  it("restore() that removes messages lowers the count", async () => {
    const { rt } = freshInstance()
    const room = rt.room("restored")
    await runTest(room.publish({ type: "n" }))
    const snapshot = await runTest(room.snapshot({ label: "one message" }))
    await runTest(Effect.forEach([1, 2, 3], () => room.publish({ type: "n" })))
    await expectStats(rt, { messages: 4 })
    await runTest(room.restore({ snapshotId: snapshot.id }))
    await expectStats(rt, { messages: 1 })
  })
})

describe("stats(): connections are the open sockets and streams", () => {
  it("sockets count while open and stop counting when they close, also while the room hibernates", async () => {
    const { name, rt } = freshInstance()
    const grant = (actor: string) => runTest(rt.room("live-room").authorize({ actor: { type: "user", id: actor }, ttlSeconds: 60 }))
    const ada = await connect(await grant("ada"))
    const bob = await connect(await grant("bob"))
    const cy = await connect(await grant("cy"))
    await expectStats(rt, { rooms: 1, members: 3, connections: 3 })
    ada.close()
    await ada.closed
    await expectStats(rt, { members: 2, connections: 2 })
    // Hibernated: the close wakes the room, which reports.
    await evictDurableObject(stubFor(name, "room", "live-room"), { webSockets: "hibernate" })
    bob.close()
    await bob.closed
    await expectStats(rt, { members: 1, connections: 1 })
    cy.close()
    await cy.closed
    await expectStats(rt, { rooms: 1, members: 0, connections: 0 })
  })

  it("after a restart drops the sockets, the room corrects its counts when it runs again", async () => {
    const { rt } = freshInstance({ presenceTtlMs: 300 })
    const grant = await runTest(rt.room("reset-room").authorize({ actor: { type: "user", id: "ada" }, ttlSeconds: 60 }))
    await connect(grant)
    await expectStats(rt, { connections: 1, members: 1 })
    await abortAllDurableObjects()
    // Any use of the room (here a read) starts it: it sees no sockets and reports; the member
    // it had over that socket gets the HTTP grace period, then leaves.
    await runTest(rt.room("reset-room").state())
    await expectStats(rt, { rooms: 1, connections: 0 })
    await expectStats(rt, { members: 0 })
  })

  it("an SSE stream counts while open; when the reader goes away the next heartbeat reports it", async () => {
    const { rt } = freshInstance({ heartbeat: 300 })
    const grant = await runTest(rt.channel("dash").authorize({ actor: { type: "user", id: "viewer" }, permissions: ["read"], ttlSeconds: 60 }))
    const response = await SELF.fetch(`http://example.com${grant.eventsUrl}`, { headers: { Authorization: `Bearer ${grant.token}` } })
    expect(response.status).toBe(200)
    const reader = response.body!.getReader()
    await reader.read()
    await expectStats(rt, { channels: 1, connections: 1 })
    await reader.cancel()
    await expectStats(rt, { channels: 1, connections: 0 })
  })
})
