import { env, evictDurableObject, runInDurableObject, SELF } from "cloudflare:test"
import * as jose from "jose"
import { describe, expect, it } from "vitest"
import { SUBPROTOCOL, TOKEN_PROTOCOL_PREFIX } from "../src/schema/Protocol.js"
import { audienceOf, ISSUER } from "../src/services/Grants.js"
import { tamperSignature, testGrantKey } from "./grant-keys.js"
import { instanceConfig } from "../src/Config.js"
import { liveHandler } from "../src/http/LiveRoutes.js"
import { makeRealtime } from "../src/Realtime.js"
import { runTest, uniqueId } from "./helpers.js"
import { channelGrant, connect, liveService, openSocket, roomGrant, stubFor } from "./live-helpers.js"

const b64 = (value: unknown) => btoa(JSON.stringify(value)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_")

/** A hand-made token for a room of `livetest`, to build the attacks. */
const craft = async (roomId: string, options: { expSeconds?: number; alg?: "HS256" | "HS512"; kid?: string; key?: Uint8Array; audience?: string } = {}) => {
  const now = Math.floor(Date.now() / 1000)
  return new jose.SignJWT({ scope: { type: "room", instance: "livetest", resource: roomId, actor: { type: "user", id: "mallory" }, permissions: ["read", "publish"] } } as never)
    .setProtectedHeader({ alg: options.alg ?? "HS256", kid: options.kid ?? testGrantKey.kid })
    .setIssuer(ISSUER)
    .setAudience(options.audience ?? audienceOf("room"))
    .setIssuedAt(now - 120)
    .setExpirationTime(now + (options.expSeconds ?? 60))
    .setJti(crypto.randomUUID())
    .sign(options.key ?? testGrantKey.key)
}

const wsUrl = (roomId: string) => `/realtime/livetest/rooms/${roomId}/ws`
const withToken = (roomId: string, token: string) => ({ url: wsUrl(roomId), protocols: [SUBPROTOCOL, `${TOKEN_PROTOCOL_PREFIX}${token}`] })

const expectRefused = async (grant: { url: string; protocols: ReadonlyArray<string> }, status: number, reason?: string) => {
  const { response, socket } = await openSocket(grant)
  expect(socket).toBeUndefined()
  expect(response.status).toBe(status)
  const body = (await response.json()) as { error: { _tag: string; reason?: string } }
  if (reason !== undefined) expect(body.error.reason).toBe(reason)
  return body
}

describe("grants", () => {
  it("authorize returns the URL, protocols and expiry a browser needs, and the grant connects", async () => {
    const roomId = uniqueId("grant")
    const grant = await roomGrant(roomId, "alice", ["read"], 120)
    expect(grant.url).toBe(`/realtime/livetest/rooms/${roomId}/ws`)
    expect(grant.eventsUrl).toBe(`/realtime/livetest/rooms/${roomId}/events`)
    expect(grant.protocols[0]).toBe(SUBPROTOCOL)
    expect(grant.protocols[1].startsWith(TOKEN_PROTOCOL_PREFIX)).toBe(true)
    expect(grant.expiresAt).toBeGreaterThan(Date.now() + 100_000)
    const withBase = await runTest(liveService().room(roomId).authorize({ actor: { type: "user", id: "a" }, baseUrl: "https://app.example.com/" }))
    expect(withBase.url).toBe(`wss://app.example.com/realtime/livetest/rooms/${roomId}/ws`)
    const { response, socket } = await openSocket(grant)
    expect(response.status).toBe(101)
    expect(response.headers.get("Sec-WebSocket-Protocol")).toBe(SUBPROTOCOL)
    await socket!.waitFor((frame) => frame.type === "ready")
    socket!.close()
  })

  it("refuses every attack before the socket is accepted, and nothing changes in the room", async () => {
    const roomId = uniqueId("attack")
    const good = await craft(roomId)
    await expectRefused({ url: wsUrl(roomId), protocols: [SUBPROTOCOL] }, 401, "missing")
    await expectRefused(withToken(roomId, await craft(roomId, { expSeconds: -60 })), 401, "expired")
    const [header, payload, signature] = good.split(".")
    const forged = b64({ ...JSON.parse(atob(payload.replace(/-/g, "+").replace(/_/g, "/"))), scope: { type: "room", instance: "livetest", resource: roomId, actor: { type: "user", id: "admin" }, permissions: ["read", "publish", "presence"] } })
    await expectRefused(withToken(roomId, `${header}.${forged}.${signature}`), 401, "invalid")
    await expectRefused(withToken(roomId, tamperSignature(good)), 401, "invalid")
    const none = `${b64({ alg: "none", typ: "JWT", kid: "development" })}.${payload}.`
    await expectRefused(withToken(roomId, none), 401, "invalid")
    await expectRefused(withToken(roomId, await craft(roomId, { alg: "HS512" })), 401, "invalid")
    await expectRefused(withToken(roomId, await craft(roomId, { kid: "someone-else" })), 401, "invalid")
    await expectRefused(withToken(roomId, await craft(roomId, { key: new TextEncoder().encode("x".repeat(40)) })), 401, "invalid")
    await expectRefused(withToken(roomId, await craft(roomId, { audience: audienceOf("table") })), 401, "wrong-audience")
    // A real grant for a channel with the same id, for another room, for another instance.
    const channel = await channelGrant(roomId, "alice")
    await expectRefused({ url: wsUrl(roomId), protocols: channel.protocols }, 401, "wrong-audience")
    const otherRoom = await roomGrant(uniqueId("elsewhere"), "alice")
    await expectRefused({ url: wsUrl(roomId), protocols: otherRoom.protocols }, 401, "wrong-scope")
    const otherInstance = await runTest(
      (await import("./helpers.js")).service("test").room(roomId).authorize({ actor: { type: "user", id: "alice" } }),
    )
    await expectRefused({ url: wsUrl(roomId), protocols: otherInstance.protocols }, 401, "wrong-scope")
    // A valid grant without read cannot subscribe (403, do not retry).
    const noRead = await roomGrant(roomId, "alice", ["publish"])
    expect((await expectRefused(noRead, 403)).error._tag).toBe("Forbidden")
    // The room saw none of it.
    const state = await runTest(liveService().room(roomId).state())
    expect(state.connections).toBe(0)
    expect(state.lastSeq).toBe(0)
    expect((await runTest(liveService().room(roomId).members())).count).toBe(0)
  })

  it("rotates keys: a grant signed with the old secret still works while it is the previous one, not after", async () => {
    const roomId = uniqueId("rotation")
    const base = env as unknown as Record<string, unknown>
    const authorizeWith = (secrets: Record<string, string>) =>
      runTest(makeRealtime(instanceConfig("livetest"), { ...base, ...secrets }).room(roomId).authorize({ actor: { type: "user", id: "alice" } }))
    const connectWith = (grant: { url: string; protocols: ReadonlyArray<string> }, secrets: Record<string, string>) =>
      liveHandler()(new Request(`http://example.com${grant.url}`, { headers: { Upgrade: "websocket", "Sec-WebSocket-Protocol": grant.protocols.join(", ") } }), { ...base, ...secrets })
    const oldGrant = await authorizeWith({ REALTIME_GRANT_SECRET: "old-secret-0123456789abcdef0123456789" })
    const during = await connectWith(oldGrant, { REALTIME_GRANT_SECRET: "new-secret-0123456789abcdef0123456789", REALTIME_GRANT_SECRET_PREVIOUS: "old-secret-0123456789abcdef0123456789" })
    expect(during?.status).toBe(101)
    during?.webSocket?.accept()
    during?.webSocket?.close()
    const newGrant = await authorizeWith({ REALTIME_GRANT_SECRET: "new-secret-0123456789abcdef0123456789", REALTIME_GRANT_SECRET_PREVIOUS: "old-secret-0123456789abcdef0123456789" })
    const fresh = await connectWith(newGrant, { REALTIME_GRANT_SECRET: "new-secret-0123456789abcdef0123456789" })
    expect(fresh?.status).toBe(101)
    fresh?.webSocket?.accept()
    fresh?.webSocket?.close()
    const after = await connectWith(oldGrant, { REALTIME_GRANT_SECRET: "new-secret-0123456789abcdef0123456789" })
    expect(after?.status).toBe(401)
  })

  it("refuses SSE without a bearer token and with a tampered one", async () => {
    const roomId = uniqueId("sse-attack")
    const noToken = await SELF.fetch(`http://example.com/realtime/livetest/rooms/${roomId}/events`)
    expect(noToken.status).toBe(401)
    const bad = await SELF.fetch(`http://example.com/realtime/livetest/rooms/${roomId}/events`, { headers: { Authorization: `Bearer ${tamperSignature(await craft(roomId))}` } })
    expect(bad.status).toBe(401)
  })

  it("closes a socket whose grant expires with the grant-expired code (4001), through the durable job", async () => {
    const roomId = uniqueId("expiry")
    const grant = await roomGrant(roomId, "alice", ["read", "publish", "presence"], 1)
    const socket = await connect(grant)
    const closed = await socket.closed
    expect(closed.code).toBe(4001)
    expect(Date.now()).toBeGreaterThanOrEqual(grant.expiresAt - 50)
    // A fresh grant connects again (what the client does on 4001).
    const again = await connect(await roomGrant(roomId, "alice"))
    again.close()
  })

  it("checks expiry on every inbound frame too (even if the expiry job has not run)", async () => {
    const roomId = uniqueId("expiry-frame")
    const grant = await roomGrant(roomId, "alice", ["read", "publish"], 1)
    const socket = await connect(grant)
    // Take the job away: only the per-frame check is left.
    await runInDurableObject(stubFor("livetest", "room", roomId), async (_instance, state) => {
      state.storage.sql.exec("DELETE FROM _jobs WHERE name = 'grant-expiry'")
      await state.storage.deleteAlarm()
    })
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, grant.expiresAt - Date.now()) + 20))
    socket.send({ type: "publish", id: "late", message: { type: "after-expiry" } })
    expect((await socket.closed).code).toBe(4001)
    expect(socket.frames.some((f) => f.type === "ack")).toBe(false)
    expect((await runTest(liveService().room(roomId).history())).messages).toHaveLength(0)
  })

  it("a hibernated room (no in-memory state) still routes, authorizes and fans out", async () => {
    const roomId = uniqueId("hibernate")
    const alice = await connect(await roomGrant(roomId, "alice"))
    const bob = await connect(await roomGrant(roomId, "bob"))
    const stub = stubFor("livetest", "room", roomId)
    await evictDurableObject(stub, { webSockets: "hibernate" })
    // A new connection after the wake is verified and joins the same fan-out as the hibernated sockets.
    const carol = await connect(await roomGrant(roomId, "carol"))
    expect(carol.frames.find((f) => f.type === "ready")!.members.map((m: { id: string }) => m.id).sort()).toEqual(["user:alice", "user:bob", "user:carol"])
    alice.send({ type: "publish", id: "after", message: { type: "still-here" } })
    const ack = await alice.waitFor((f) => f.type === "ack" && f.id === "after")
    expect(ack.message.actor.id).toBe("alice")
    await bob.waitFor((f) => f.type === "message" && f.message.type === "still-here")
    await carol.waitFor((f) => f.type === "message" && f.message.type === "still-here")
    // An attack on the woken room is still refused.
    await expectRefused(withToken(roomId, await craft(roomId, { expSeconds: -60 })), 401, "expired")
    alice.close()
    bob.close()
    carol.close()
  })
})
