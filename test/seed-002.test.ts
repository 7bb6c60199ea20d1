/**
 * Seed 002 (Rooms and channels), every example as written, against the example's `live`
 * instance. Where the document relies on the current user (join, presence), the code runs inside a
 * request of a logged-in person (the router's part; identity comes from the app's `identify`).
 *
 * Adaptation: `const history = await live.channel("deployments").history({ limit: 50, cursor })`
 * needs a `cursor` in scope; the test takes it from the page before (`undefined` on the first read).
 */
import { describe, expect, it, vi } from "vitest"
import { live } from "../examples/worker.js"
import { login, type Session } from "./example-session.js"

const asUser = <A>(session: Session, body: () => Promise<A>): Promise<A> =>
  live.withRequest(new Request("http://example.com/", { headers: session.headers() }), body)

describe("seed 002: rooms and channels", () => {
  it("a room: join with metadata and presence, then publish", async () => {
    const ada = await login("Ada")
    const { joined, published } = await asUser(ada, async () => {
      const room = live.room("project_123")
      const joined = await room.join({
        metadata: {
          role: "editor",
        },
        presence: {
          status: "online",
        },
      })
      const published = await room.publish({
        type: "task.created",
        data: {
          taskId: "task_123",
        },
      })
      return { joined, published }
    })
    expect(joined).toMatchObject({ joined: true, member: { actor: ada.actor, metadata: { role: "editor" }, presence: { status: "online" } }, room: { id: "project_123" } })
    expect(published).toMatchObject({ duplicate: false, message: { type: "task.created", data: { taskId: "task_123" }, actor: ada.actor } })
  })

  it("room metadata is returned with the room identity and update time", async () => {
    const full = await live.room("project_123").metadata({
      metadata: {
        title: "Launch plan",
        mode: "planning",
        locked: false,
      },
    })
    expect(full).toMatchObject({ id: "project_123", instance: "live", metadata: { title: "Launch plan", mode: "planning", locked: false } })
    const room = live.room("project_123")
    const result = await room.metadata({
      metadata: {
        title: "Launch plan",
      },
    })
    expect(Object.keys(result).sort()).toEqual(["id", "instance", "metadata", "updatedAt"])
    expect(result).toMatchObject({ id: "project_123", instance: "live", metadata: { title: "Launch plan" } })
    expect(Date.parse(result.updatedAt!)).toBeGreaterThan(0)
  })

  it("an idempotency key keeps client retries from creating duplicate stored messages", async () => {
    const publish = () =>
      live.room("project_123").publish({
        type: "comment.created",
        data: {
          commentId: "comment_123",
          body: "Looks good.",
        },
        idempotencyKey: "client_event_123",
      })
    const first = await publish()
    const retry = await publish()
    expect(retry).toEqual({ message: first.message, duplicate: true })
    const comments = (await live.room("project_123").history({ limit: 100 })).messages.filter((m) => m.type === "comment.created")
    expect(comments).toHaveLength(1)
  })

  it("a channel: broadcast, history with a cursor, stats", async () => {
    const deployments = live.channel("deployments")
    const broadcast = await deployments.broadcast({
      type: "deployment.finished",
      data: {
        deploymentId: "dep_123",
        status: "success",
      },
    })
    expect(broadcast.message).toMatchObject({ type: "deployment.finished", data: { deploymentId: "dep_123", status: "success" } })
    let cursor: string | undefined
    const history = await live.channel("deployments").history({
      limit: 50,
      cursor,
    })
    expect(history.messages[0]?.id).toBe(broadcast.message!.id)
    expect(typeof history.catchUpCursor).toBe("string")
    // "Use history when dashboards reconnect and need to catch up on missed events."
    cursor = history.catchUpCursor
    const missed = await deployments.broadcast({ type: "deployment.started", data: { deploymentId: "dep_124" } })
    const caughtUp = await live.channel("deployments").history({
      limit: 50,
      cursor,
    })
    expect(caughtUp.messages.map((m) => m.id)).toEqual([missed.message!.id])
    const stats = await live.channel("deployments").stats()
    expect(stats).toMatchObject({ id: "deployments", instance: "live", status: "active", lastSeq: missed.message!.seq })
    expect(stats.messages).toBeGreaterThanOrEqual(2)
  })

  it("stable names match the product model", async () => {
    const projectId = "p_42"
    const tenantId = "acme"
    const rooms = [live.room(`project_${projectId}`), live.room(`tenant_${tenantId}:support`)]
    const channels = [live.channel("deployments"), live.channel(`tenant_${tenantId}:alerts`)]
    for (const room of rooms) expect((await room.publish({ type: "named" })).message.type).toBe("named")
    for (const channel of channels) expect((await channel.publish({ type: "named" })).message.type).toBe("named")
    expect((await live.room(`tenant_${tenantId}:support`).state()).id).toBe("tenant_acme:support")
  })

  it("stats return counts for rooms, active members, and messages", async () => {
    // The instance is shared with the other tests of the example app: at least what this file made.
    await vi.waitFor(
      async () => {
        const stats = await live.stats()
        expect(Object.keys(stats).sort()).toEqual(["channels", "connections", "instance", "members", "messages", "rooms"])
        expect(stats.instance).toBe("live")
        // project_123 (Ada joined it over HTTP), project_p_42, tenant_acme:support; deployments, tenant_acme:alerts.
        expect(stats.rooms).toBeGreaterThanOrEqual(3)
        expect(stats.channels).toBeGreaterThanOrEqual(2)
        expect(stats.members).toBeGreaterThanOrEqual(1)
        expect(stats.messages).toBeGreaterThanOrEqual(7)
      },
      { timeout: 5_000, interval: 100 },
    )
  })

  it("destroy() closes the room for good", async () => {
    await live.room("project_123").destroy()
    expect((await live.room("project_123").state()).status).toBe("destroyed")
    await expect(live.room("project_123").publish({ type: "late" })).rejects.toMatchObject({ _tag: "RoomDestroyed" })
  })
})
