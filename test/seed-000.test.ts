/**
 * Seed 000 (Realtime overview), every example as written. The route examples run against the
 * example app's routes (examples/worker.ts, examples/routes/live.ts); the other snippets run
 * against the example's `live` instance (`realtime({ name: "live" })`), inside a request of a
 * logged-in person where the document relies on "the current user as the actor" — the router's part.
 *
 * Adaptations: imports; the router (`live.worker(...)` + our path matching instead of
 * `backend()`/`app.post`); routes answer `Response.json(result)`; writes need a session, and the
 * current user comes from the app's `identify` (its session cookie), not from identity headers a
 * client could set (see the README, "Identity").
 */
import { SELF } from "cloudflare:test"
import { describe, expect, it } from "vitest"
import * as Y from "yjs"
import { live } from "../examples/worker.js"
import { toBase64, fromBase64 } from "./crdt-helpers.js"
import { login, type Session } from "./example-session.js"
import { uniqueId } from "./helpers.js"

/** Run the document's code as the logged-in person of a request (what a route handler sees). */
const asUser = <A>(session: Session, body: () => Promise<A>): Promise<A> =>
  live.withRequest(new Request("http://example.com/", { headers: session.headers() }), body)

describe("seed 000: Realtime overview", () => {
  it('app.post("/rooms/:roomId/messages"): publishes { type: "message.created", data: body }', async () => {
    const ada = await login("Ada")
    const roomId = uniqueId("room")
    const response = await SELF.fetch(`http://example.com/rooms/${roomId}/messages`, {
      method: "POST",
      headers: ada.headers(),
      body: JSON.stringify({ body: "Hello, support." }),
    })
    expect(response.ok).toBe(true)
    const result = (await response.json()) as { message: Record<string, unknown>; duplicate: boolean }
    expect(result.duplicate).toBe(false)
    expect(result.message).toMatchObject({ seq: 1, type: "message.created", data: { body: "Hello, support." }, actor: ada.actor })
    expect(Object.keys(result.message).sort()).toEqual(["actor", "createdAt", "data", "epoch", "id", "seq", "type"])
  })

  it("room publish with an idempotencyKey", async () => {
    const first = await live.room("support_123").publish({
      type: "message.created",
      data: {
        body: "I can help with that.",
      },
      idempotencyKey: "client_msg_123",
    })
    const retry = await live.room("support_123").publish({
      type: "message.created",
      data: {
        body: "I can help with that.",
      },
      idempotencyKey: "client_msg_123",
    })
    expect(first.message).toMatchObject({ type: "message.created", data: { body: "I can help with that." }, idempotencyKey: "client_msg_123" })
    expect(retry).toEqual({ message: first.message, duplicate: true })
  })

  it("channel broadcast", async () => {
    const result = await live.channel("deployments").broadcast({
      type: "deployment.finished",
      data: {
        deploymentId: "dep_123",
        status: "success",
      },
    })
    expect(result).toMatchObject({ duplicate: false, delivered: 0, message: { type: "deployment.finished", data: { deploymentId: "dep_123", status: "success" } } })
  })

  it("presence (joins the current user if needed)", async () => {
    const ada = await login("Ada")
    const member = await asUser(ada, () =>
      live.room("doc_123").presence({
        presence: {
          cursor: 12,
          selection: { from: 4, to: 12 },
        },
      }),
    )
    expect(member).toMatchObject({ actor: ada.actor, presence: { cursor: 12, selection: { from: 4, to: 12 } } })
    expect((await live.room("doc_123").members()).members.map((m) => m.actor)).toContainEqual(ada.actor)
  })

  it("crdtRoom applyYjsUpdate and syncYjs", async () => {
    const ada = await login("Ada")
    const editor = new Y.Doc()
    editor.getText("content").insert(0, "Launch plan")
    const updateBase64 = toBase64(Y.encodeStateAsUpdate(editor))
    const stateVectorBase64 = toBase64(Y.encodeStateVector(new Y.Doc()))
    const { applied, synced } = await asUser(ada, async () => {
      const applied = await live.crdtRoom("doc_123").applyYjsUpdate({
        updateBase64,
        clientId: "browser_tab_1",
      })
      const synced = await live.crdtRoom("doc_123").syncYjs({
        stateVectorBase64,
      })
      return { applied, synced }
    })
    expect(applied).toMatchObject({ duplicate: false })
    expect(typeof applied.stateVectorBase64).toBe("string")
    const reader = new Y.Doc()
    Y.applyUpdate(reader, fromBase64(synced.updateBase64))
    expect(reader.getText("content").toString()).toBe("Launch plan")
  })

  it("destroy with deleteHistory and deleteSnapshots", async () => {
    await live.room("temporary_room_123").publish({ type: "note", data: { text: "temporary" } })
    await live.room("temporary_room_123").snapshot({ label: "before cleanup" })
    const result = await live.room("temporary_room_123").destroy({
      deleteHistory: true,
      deleteSnapshots: true,
    })
    expect(result).toMatchObject({ id: "temporary_room_123", status: "destroyed", deletedMessages: 1, deletedSnapshots: 1 })
    expect((await live.room("temporary_room_123").history()).messages).toEqual([])
    await expect(live.room("temporary_room_123").publish({ type: "late" })).rejects.toMatchObject({ _tag: "RoomDestroyed" })
  })

  it('app.post("/rooms/:roomId/join"): the current user joins, online', async () => {
    const ada = await login("Ada")
    const roomId = uniqueId("join")
    const response = await SELF.fetch(`http://example.com/rooms/${roomId}/join`, { method: "POST", headers: ada.headers() })
    expect(response.ok).toBe(true)
    const result = (await response.json()) as { member: { actor: unknown; presence: unknown }; members: Array<unknown>; room: { id: string }; joined: boolean }
    expect(result).toMatchObject({ joined: true, member: { actor: ada.actor, presence: { status: "online" } }, room: { id: roomId } })
    expect(result.members).toHaveLength(1)
    // Without a session there is no current user: refused, nobody joins.
    const anonymous = await SELF.fetch(`http://example.com/rooms/${roomId}/join`, { method: "POST" })
    expect(anonymous.status).toBe(401)
  })
})
