/**
 * The browser/Node client against the real server: resume, dedupe, grant refresh, close codes,
 * members view, idempotent re-send.
 */
import { env, SELF } from "cloudflare:test"
import { describe, expect, it } from "vitest"
import { connectChannel, connectRoom, ConnectFailed, backoffDelay, type Connector, type SocketLike } from "../src/client/index.js"
import { instanceConfig } from "../src/Config.js"
import { makeRealtime } from "../src/Realtime.js"
import type { LiveGrant } from "../src/schema/LiveGrant.js"
import { runTest, uniqueId } from "./helpers.js"
import { eventually } from "./live-helpers.js"

// The default "live" instance: no tight connection or rate limits in the way.
const rt = () => makeRealtime(instanceConfig("live"), env as unknown as Record<string, unknown>)

/** A connector over the test Worker that remembers its sockets so tests can drop them. */
const testConnector = () => {
  const sockets: Array<WebSocket> = []
  const connector: Connector = async (url, protocols) => {
    const response = await SELF.fetch(url, { headers: { Upgrade: "websocket", "Sec-WebSocket-Protocol": protocols.join(", ") } })
    const socket = response.webSocket
    if (socket === null) throw new ConnectFailed(response.status, await response.text())
    socket.accept()
    sockets.push(socket)
    return socket as unknown as SocketLike
  }
  return { connector, sockets }
}

const grantFor = (kind: "room" | "channel", id: string, actorId: string, ttlSeconds = 60, permissions?: ReadonlyArray<"read" | "publish" | "presence">) =>
  runTest(
    (kind === "room" ? rt().room(id) : rt().channel(id)).authorize({
      actor: { type: "user", id: actorId },
      ttlSeconds,
      ...(permissions ? { permissions } : {}),
    }),
  ) as Promise<LiveGrant>

const fastBackoff = { initialMs: 10, maxMs: 50, jitter: 0.5 }

describe("client: subscribe, resume and dedupe", () => {
  it("receives published messages in order, and after a dropped socket resumes without loss or duplicates", async () => {
    const roomId = uniqueId("client-resume")
    const { connector, sockets } = testConnector()
    let grantCalls = 0
    const room = connectRoom({
      grant: () => (grantCalls++, grantFor("room", roomId, "ada")),
      baseUrl: "http://example.com",
      connect: connector,
      backoff: fastBackoff,
    })
    const seen: Array<number> = []
    room.subscribe((message) => seen.push(message.data as number))
    const states: Array<string> = []
    room.onState((state) => states.push(state))
    await eventually(() => (room.state() === "live" ? true : undefined), 3000, "live")
    for (let i = 1; i <= 5; i++) await runTest(rt().room(roomId).publish({ type: "n", data: i }))
    await eventually(() => (seen.length === 5 ? true : undefined), 3000, "5 messages")

    // Drop the socket, publish while the client is away, and let it come back.
    sockets[0].close(4000, "test drop")
    for (let i = 6; i <= 10; i++) await runTest(rt().room(roomId).publish({ type: "n", data: i }))
    await eventually(() => (seen.length >= 10 && room.state() === "live" ? true : undefined), 5000, "resume")
    for (let i = 11; i <= 12; i++) await runTest(rt().room(roomId).publish({ type: "n", data: i }))
    await eventually(() => (seen.length >= 12 ? true : undefined), 3000, "live after resume")
    expect(seen).toEqual(Array.from({ length: 12 }, (_, i) => i + 1))
    expect(grantCalls).toBeGreaterThanOrEqual(2) // a fresh grant for the reconnect
    expect(states).toContain("reconnecting")
    expect(room.position()?.seq).toBe(12)
    room.close()
  })

  it("publish over the socket is acknowledged with the stored message; a re-sent publish is never stored twice", async () => {
    const channelId = uniqueId("client-publish")
    const { connector } = testConnector()
    const channel = connectChannel({ grant: () => grantFor("channel", channelId, "bob"), baseUrl: "http://example.com", connect: connector })
    const received: Array<string> = []
    channel.subscribe((message) => received.push(message.type))
    // Requested before the connection is live: queued, then sent on ready.
    const first = channel.publish({ type: "deploy.started", data: { id: 1 } })
    const { message, duplicate } = await first
    expect(duplicate).toBe(false)
    expect(message.seq).toBe(1)
    expect(message.idempotencyKey).toMatch(/^client_/)
    const again = await channel.publish({ type: "deploy.started", data: { id: 1 }, idempotencyKey: message.idempotencyKey })
    expect(again.duplicate).toBe(true)
    await eventually(() => (received.length === 1 ? true : undefined), 3000, "one delivery")
    const history = await runTest(rt().channel(channelId).history())
    expect(history.messages).toHaveLength(1)
    channel.close()
  })
})

describe("client: grants and close codes", () => {
  it("a grant-expired close makes it fetch a new grant and reconnect; refresh happens before expiry", async () => {
    const roomId = uniqueId("client-expiry")
    const { connector } = testConnector()
    const grants: Array<LiveGrant> = []
    const room = connectRoom({
      // 2-second grants, refreshed 1.5 s before expiry: the client reconnects with a new grant.
      grant: async () => {
        const grant = await grantFor("room", roomId, "cy", 2)
        grants.push(grant)
        return grant
      },
      refreshBeforeMs: 1_500,
      baseUrl: "http://example.com",
      connect: connector,
      backoff: fastBackoff,
    })
    await eventually(() => (grants.length >= 2 && room.state() === "live" ? true : undefined), 5000, "refresh")
    expect(new Set(grants.map((grant) => grant.token)).size).toBe(grants.length)
    room.close()
  })

  it("a refused handshake with a read-only grant publishing gets a typed error, and forbidden stops retrying", async () => {
    const channelId = uniqueId("client-readonly")
    const { connector } = testConnector()
    const channel = connectChannel({
      grant: () => grantFor("channel", channelId, "reader", 60, ["read"]),
      baseUrl: "http://example.com",
      connect: connector,
    })
    const error: { tag?: string } = await channel.publish({ type: "nope" }).then(
      () => ({}),
      (e: unknown) => e as { tag: string },
    )
    expect(error.tag).toBe("Forbidden")
    expect((await runTest(rt().channel(channelId).history())).messages).toEqual([])
    channel.close()

    let attempts = 0
    const refused = connectChannel({
      grant: () => grantFor("channel", channelId, "x"),
      baseUrl: "http://example.com",
      connect: async () => {
        attempts++
        throw new ConnectFailed(403, "forbidden")
      },
      backoff: fastBackoff,
    })
    await eventually(() => (refused.state() === "closed" ? true : undefined), 2000, "closed")
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(attempts).toBe(1)
  })

  it("a destroyed room closes the client for good (4004), without reconnecting", async () => {
    const roomId = uniqueId("client-destroy")
    const { connector } = testConnector()
    let connects = 0
    const room = connectRoom({
      grant: () => grantFor("room", roomId, "dee"),
      baseUrl: "http://example.com",
      connect: (url, protocols) => (connects++, connector(url, protocols)),
      backoff: fastBackoff,
    })
    const errors: Array<{ _tag: string; code?: number; final?: boolean }> = []
    room.onError((error) => errors.push(error as never))
    await eventually(() => (room.state() === "live" ? true : undefined), 3000, "live")
    await runTest(rt().room(roomId).destroy())
    await eventually(() => (room.state() === "closed" ? true : undefined), 3000, "closed")
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(connects).toBe(1)
    expect(errors).toContainEqual(expect.objectContaining({ _tag: "Closed", code: 4004, final: true }))
  })
})

describe("client: members view", () => {
  it("follows joins, presence and leaves of other connections", async () => {
    const roomId = uniqueId("client-members")
    const { connector } = testConnector()
    const options = (actor: string) => ({ grant: () => grantFor("room", roomId, actor), baseUrl: "http://example.com", connect: connector })
    const ada = connectRoom(options("ada"))
    await eventually(() => (ada.state() === "live" ? true : undefined), 3000, "ada live")
    const bob = connectRoom(options("bob"))
    await eventually(() => (ada.members().length === 2 ? true : undefined), 3000, "bob joined")
    bob.presence({ cursor: { x: 3, y: 4 }, typing: true })
    await eventually(() => ada.members().find((m) => m.actor.id === "bob" && m.presence.typing === true), 3000, "bob typing")
    bob.close()
    await eventually(() => (ada.members().map((m) => m.actor.id).join() === "ada" ? true : undefined), 3000, "bob left")
    ada.close()
  })
})

describe("client: backoff", () => {
  it("grows exponentially, is capped, and jitter only shortens", () => {
    const options = { initialMs: 100, maxMs: 1_000, factor: 2, jitter: 0.5 }
    expect([0, 1, 2, 3, 4, 10].map((attempt) => backoffDelay(attempt, 0, options))).toEqual([100, 200, 400, 800, 1000, 1000])
    expect(backoffDelay(2, 0.999, options)).toBeGreaterThanOrEqual(200)
    expect(backoffDelay(2, 0.999, options)).toBeLessThan(400)
  })
})
