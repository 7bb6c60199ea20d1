/**
 * S6 on the example app: a person is who their signed session cookie says, on every route. No
 * header, query parameter or body field makes a client another user or a service.
 */
import { SELF } from "cloudflare:test"
import * as jose from "jose"
import { describe, expect, it } from "vitest"
import { tamperSignature, TEST_GRANT_SECRET } from "./grant-keys.js"
import { login, type Session } from "./example-session.js"
import { uniqueId } from "./helpers.js"

const base = "http://example.com"
/** Everything a client could try to name someone else with. */
const claims = { "x-user-id": "ada", "x-user-name": "Ada", "x-client-id": "ada-laptop" }
const claimedActor = { type: "service", id: "server", name: "Server" }
const payloadOf = (token: string) => JSON.parse(atob(token.split(".")[1]!.replace(/-/g, "+").replace(/_/g, "/"))) as { scope: { actor: { type: string; id: string } } }

const post = (path: string, body: unknown, headers: Record<string, string>) => SELF.fetch(`${base}${path}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) })
const status401 = async (response: Response) => {
  expect(response.status).toBe(401)
  expect(((await response.json()) as { error: { _tag: string } }).error._tag).toBe("Unauthorized")
}

describe("S6 the example app authenticates people: login issues a signed HttpOnly session", () => {
  it("POST /login gives a fresh user id per login (a name is not an identity), GET /me reads the cookie back", async () => {
    const first = await login("Ada")
    const second = await login("Ada")
    expect(first.actor.name).toBe("Ada")
    expect(first.actor.id).not.toBe(second.actor.id)
    const response = await post("/login", { name: "Ada" }, {})
    const cookie = response.headers.get("set-cookie") ?? ""
    expect(cookie).toMatch(/^session=[^;]+; HttpOnly; SameSite=Lax; Path=\/; Max-Age=\d+/)
    const me = await SELF.fetch(`${base}/me`, { headers: { cookie: first.cookie } })
    expect(((await me.json()) as { actor: unknown }).actor).toEqual(first.actor)
    await status401(await SELF.fetch(`${base}/me`, { headers: claims }))
    for (const body of [{}, { name: "" }, { name: "x".repeat(41) }, { name: "a\u0000b" }, "Ada"]) expect((await post("/login", body, {})).status).toBe(400)
  })

  it("a tampered, foreign-key, wrong-audience or expired cookie is no session", async () => {
    const ada = await login("Ada")
    const token = ada.cookie.slice("session=".length)
    const [header, payload, signature] = token.split(".")
    const claimsOf = JSON.parse(atob(payload!.replace(/-/g, "+").replace(/_/g, "/"))) as Record<string, unknown>
    const swapped = btoa(JSON.stringify({ ...claimsOf, sub: "someone-else" })).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_")
    const sign = (claims: jose.JWTPayload, key: Uint8Array, audience = "durable-realtime-example:session", exp = Math.floor(Date.now() / 1000) + 600) =>
      new jose.SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setIssuer("durable-realtime-example").setAudience(audience).setSubject("ada").setIssuedAt().setExpirationTime(exp).sign(key)
    const secret = new TextEncoder().encode(TEST_GRANT_SECRET)
    const forged = [
      `${header}.${swapped}.${signature}`,
      tamperSignature(token),
      // Signed with the grant secret itself (the session key is derived from it, not equal to it).
      await sign({ name: "Ada" }, secret),
      await sign({ name: "Ada" }, new TextEncoder().encode("another-secret-entirely-0123456789abcdef")),
      await sign({ name: "Ada" }, secret, "durable-realtime:room"),
      await sign({ name: "Ada" }, secret, undefined, Math.floor(Date.now() / 1000) - 60),
    ]
    for (const value of forged) await status401(await SELF.fetch(`${base}/me`, { headers: { cookie: `session=${value}` } }))
    // A real room grant is not a session either.
    const grant = (await (await SELF.fetch(`${base}/api/grants/rooms/${uniqueId("not-a-session")}`, { headers: { cookie: ada.cookie } })).json()) as { token: string }
    await status401(await SELF.fetch(`${base}/me`, { headers: { cookie: `session=${grant.token}` } }))
  })
})

describe("S6 no impersonation on any example route: headers, query and body never name the actor", () => {
  let bob: Session

  it("room and channel messages: no session → 401 and nothing stored; with a session, spoofed headers and a body actor are ignored", async () => {
    bob = await login("Bob")
    const roomId = uniqueId("spoof-room")
    const channelId = uniqueId("spoof-channel")
    const message = { type: "chat", data: { text: "hi" }, actor: claimedActor }
    await status401(await post(`/rooms/${roomId}/messages?user=ada`, message, claims))
    await status401(await post(`/channels/${channelId}/events?user=ada`, message, claims))
    expect(((await (await SELF.fetch(`${base}/rooms/${roomId}/messages`)).json()) as { messages: Array<unknown> }).messages).toHaveLength(0)
    expect(((await (await SELF.fetch(`${base}/channels/${channelId}/history`)).json()) as { messages: Array<unknown> }).messages).toHaveLength(0)

    const inRoom = await post(`/rooms/${roomId}/messages?user=ada`, message, bob.headers(claims))
    expect(inRoom.status).toBe(201)
    const inChannel = await post(`/channels/${channelId}/events?user=ada`, message, bob.headers(claims))
    expect(inChannel.status).toBe(201)
    for (const response of [inRoom, inChannel]) {
      expect(((await response.json()) as { message: { actor: unknown } }).message.actor).toEqual(bob.actor)
    }
    const stored = (await (await SELF.fetch(`${base}/rooms/${roomId}/messages`)).json()) as { messages: Array<{ actor: unknown }> }
    expect(stored.messages.map((m) => m.actor)).toEqual([bob.actor])
  })

  it("join and presence: the member is the session's person, whatever ?user=, headers or body say", async () => {
    bob ??= await login("Bob")
    const roomId = uniqueId("spoof-members")
    await status401(await post(`/rooms/${roomId}/join?user=ada`, { actor: claimedActor }, claims))
    await status401(await post(`/rooms/${roomId}/presence?user=ada`, { presence: { typing: true }, actor: claimedActor }, claims))
    const joined = (await (await post(`/rooms/${roomId}/join?user=ada`, { metadata: { role: "x" }, actor: claimedActor }, bob.headers(claims))).json()) as { member: { actor: unknown } }
    expect(joined.member.actor).toEqual(bob.actor)
    const presence = (await (await post(`/rooms/${roomId}/presence?user=ada`, { presence: { typing: true }, actor: claimedActor }, bob.headers(claims))).json()) as { actor: unknown }
    expect(presence.actor).toEqual(bob.actor)
  })

  it("grants (rooms, channels, docs, tables) are issued to the session's person only", async () => {
    bob ??= await login("Bob")
    const id = uniqueId("spoof-grant")
    for (const kind of ["rooms", "channels", "docs"]) {
      await status401(await SELF.fetch(`${base}/api/grants/${kind}/${id}?user=ada`, { headers: claims }))
      const grant = (await (await SELF.fetch(`${base}/api/grants/${kind}/${id}?user=ada`, { headers: bob.headers(claims) })).json()) as { token: string }
      expect(payloadOf(grant.token).scope.actor).toEqual(bob.actor)
    }
    await status401(await post("/db/grants", { tenantId: "acme", userId: "ada" }, claims))
    const table = await post("/db/grants", { tenantId: "acme", userId: "ada", actor: claimedActor }, bob.headers(claims))
    expect(table.status).toBe(201)
    const token = ((await table.json()) as { protocols: Array<string> }).protocols[1]!.split(".jwt.")[1]!
    expect(payloadOf(token).scope.actor).toEqual(bob.actor)
  })

  it("document snapshots and restores need a session", async () => {
    const docId = uniqueId("spoof-doc")
    await status401(await post(`/api/docs/${docId}/snapshots`, { label: "x" }, claims))
    await status401(await post(`/api/docs/${docId}/restore`, { snapshotId: "x" }, claims))
    bob ??= await login("Bob")
    expect((await post(`/api/docs/${docId}/snapshots`, { label: "by bob" }, bob.headers(claims))).status).toBe(201)
  })
})
