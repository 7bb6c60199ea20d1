/**
 * S3: grants fail closed. Without `REALTIME_GRANT_SECRET` (and without the explicit development
 * opt-in) no grant is issued and no socket is accepted, for every route that takes a grant; and a
 * presented grant cannot claim a lifetime the library would never issue.
 */
import { env } from "cloudflare:test"
import * as jose from "jose"
import { afterAll, beforeAll, describe, expect, it, vi, type MockInstance } from "vitest"
import { Effect } from "effect"
import { instanceConfig } from "../src/Config.js"
import { authorizeTable } from "../src/db/Authorize.js"
import { databaseDefinition } from "../src/db/Declaration.js"
import { DB_SUBPROTOCOL, DB_TOKEN_PROTOCOL_PREFIX } from "../src/db/Names.js"
import { dbHandler } from "../src/db/DbRoutes.js"
import { liveHandler } from "../src/http/LiveRoutes.js"
import { makeRealtime } from "../src/Realtime.js"
import { SUBPROTOCOL, TOKEN_PROTOCOL_PREFIX, YJS_SUBPROTOCOL } from "../src/schema/Protocol.js"
import { audienceOf, DEVELOPMENT_KID, DEVELOPMENT_SECRET, ISSUER, MAX_TTL_SECONDS, type GrantType } from "../src/services/Grants.js"
import { testGrantKey } from "./grant-keys.js"
import { failureOf, runExit, runTest, uniqueId } from "./helpers.js"
import "./db-schema.js"
import "./worker.js"

const configured = env as unknown as Record<string, unknown>
/** The suite's env without its secret: what a Worker deployed without `REALTIME_GRANT_SECRET` sees. */
const { REALTIME_GRANT_SECRET: _secret, ...unconfigured } = configured
const devOptIn = { ...unconfigured, REALTIME_DEV_GRANTS: "1" }
const production = { ...devOptIn, REALTIME_ENV: "production" }

const actor = { type: "user", id: "mallory" } as const
const now = () => Math.floor(Date.now() / 1000)

/** A token signed with `key`, as an attacker (or a misconfigured issuer) would make it. */
const craft = (
  type: GrantType,
  instance: string,
  resource: string,
  options: { key?: { kid: string; key: Uint8Array }; iat?: number; exp?: number; filters?: Record<string, unknown> } = {},
) => {
  const key = options.key ?? testGrantKey
  return new jose.SignJWT({ scope: { type, instance, resource, actor, permissions: ["read", "publish", "presence", "write"], ...(options.filters ? { filters: options.filters } : {}) } } as never)
    .setProtectedHeader({ alg: "HS256", kid: key.kid })
    .setIssuer(ISSUER)
    .setAudience(audienceOf(type))
    .setIssuedAt(options.iat ?? now() - 1)
    .setExpirationTime(options.exp ?? now() + 60)
    .setJti(crypto.randomUUID())
    .sign(key.key)
}
const developmentKey = { kid: DEVELOPMENT_KID, key: new TextEncoder().encode(DEVELOPMENT_SECRET) }

const live = liveHandler()
const openLive = (path: string, protocols: ReadonlyArray<string>, scope: Record<string, unknown>) =>
  live(new Request(`http://example.com${path}`, { headers: { Upgrade: "websocket", "Sec-WebSocket-Protocol": protocols.join(", ") } }), scope).then((response) => response!)
const openSse = (path: string, token: string, scope: Record<string, unknown>) =>
  live(new Request(`http://example.com${path}`, { headers: { Authorization: `Bearer ${token}` } }), scope).then((response) => response!)
const openDb = (token: string, scope: Record<string, unknown>, tenantId = "t1") => {
  const query = new URLSearchParams({ namespace: "default", database: "dbtest", table: "posts", filters: JSON.stringify({ tenantId }) })
  return dbHandler()(
    new Request(`http://example.com/realtime-db?${query}`, { headers: { Upgrade: "websocket", "Sec-WebSocket-Protocol": `${DB_SUBPROTOCOL}, ${DB_TOKEN_PROTOCOL_PREFIX}${token}` } }),
    scope,
  ).then((response) => response!)
}

/** Refused without a socket, with the given status and error tag; the body never echoes the token. */
const expectRefused = async (response: Response, status: number, tag: string, token?: string) => {
  expect(response.webSocket).toBeNull()
  expect(response.status).toBe(status)
  const text = await response.text()
  if (token !== undefined) expect(text).not.toContain(token)
  const body = JSON.parse(text) as { error: { _tag: string; setting?: string; reason?: string } }
  expect(body.error._tag).toBe(tag)
  return body.error
}

const closeAccepted = (response: Response) => {
  expect(response.status).toBe(101)
  response.webSocket!.accept()
  response.webSocket!.close()
}

describe("S3 no secret, no grants: issuing and verifying fail closed", () => {
  let errors: MockInstance<typeof console.error>
  beforeAll(() => {
    errors = vi.spyOn(console, "error").mockImplementation(() => undefined)
  })
  afterAll(() => errors.mockRestore())

  it("authorize fails with a ConfigurationError for rooms, channels, CRDT rooms and tables, and says what to set once", async () => {
    const id = uniqueId("no-secret")
    const service = makeRealtime(instanceConfig("livetest"), unconfigured)
    const crdt = makeRealtime(instanceConfig("crdttest"), unconfigured)
    const attempts = [
      service.room(id).authorize({ actor }),
      service.channel(id).authorize({ actor, permissions: ["read"] }),
      crdt.crdtRoom(id).authorize({ actor }),
      // Widened to unknown: table grants (seed 003) have an ISO expiresAt, room grants epoch ms.
      Effect.asVoid(authorizeTable(databaseDefinition("default/dbtest")!, unconfigured, { table: "posts", filters: { tenantId: "t1" }, actor })),
    ]
    for (const attempt of attempts) {
      const failure = failureOf(await runExit(attempt))
      expect(failure._tag).toBe("ConfigurationError")
      expect(failure).toMatchObject({ setting: "REALTIME_GRANT_SECRET" })
      expect(failure.message).toContain("REALTIME_GRANT_SECRET")
    }
    // One log line per isolate (earlier tests in this isolate may have printed it already), never one per attempt.
    const lines = errors.mock.calls.map((call) => String(call[0])).filter((line) => line.includes("REALTIME_GRANT_SECRET is not set"))
    expect(lines.length).toBeLessThanOrEqual(1)
    for (const line of lines) expect(line).toContain("wrangler secret put REALTIME_GRANT_SECRET")
  })

  it("refuses every socket and stream cleanly (500 ConfigurationError, no socket): rooms, channels, SSE, y-websocket, /realtime-db", async () => {
    const id = uniqueId("no-secret-socket")
    // The attack of issue 13: a token signed with the development key, whose value is public.
    const forgedRoom = await craft("room", "livetest", id, { key: developmentKey })
    const forgedChannel = await craft("channel", "livetest", id, { key: developmentKey })
    const forgedDoc = await craft("crdtRoom", "crdttest", id, { key: developmentKey })
    const forgedTable = await craft("table", "default/dbtest", "posts", { key: developmentKey, filters: { tenantId: "t1" } })
    const refusals = [
      await openLive(`/realtime/livetest/rooms/${id}/ws`, [SUBPROTOCOL, `${TOKEN_PROTOCOL_PREFIX}${forgedRoom}`], unconfigured),
      await openLive(`/realtime/livetest/channels/${id}/ws`, [SUBPROTOCOL, `${TOKEN_PROTOCOL_PREFIX}${forgedChannel}`], unconfigured),
      await openSse(`/realtime/livetest/rooms/${id}/events`, forgedRoom, unconfigured),
      await openLive(`/realtime/crdttest/crdt/${id}/yjs`, [YJS_SUBPROTOCOL, `${TOKEN_PROTOCOL_PREFIX}${forgedDoc}`], unconfigured),
      await openDb(forgedTable, unconfigured),
    ]
    for (const response of refusals) expect((await expectRefused(response, 500, "ConfigurationError")).setting).toBe("REALTIME_GRANT_SECRET")
    // With the secret configured, the same development-key tokens are simply invalid.
    await expectRefused(await openLive(`/realtime/livetest/rooms/${id}/ws`, [SUBPROTOCOL, `${TOKEN_PROTOCOL_PREFIX}${forgedRoom}`], configured), 401, "Unauthorized", forgedRoom)
    await expectRefused(await openDb(forgedTable, configured), 401, "Unauthorized", forgedTable)
    // A real grant issued while a secret was set is not accepted by a Worker that lost it either.
    const real = await runTest(makeRealtime(instanceConfig("livetest"), configured).room(id).authorize({ actor }))
    await expectRefused(await openLive(real.url, real.protocols, unconfigured), 500, "ConfigurationError", real.token)
    // Nothing reached the room.
    const state = await runTest(makeRealtime(instanceConfig("livetest"), configured).room(id).state())
    expect(state.connections).toBe(0)
  })

  it("the development key works only when opted in with REALTIME_DEV_GRANTS=1, and never with REALTIME_ENV=production", async () => {
    const id = uniqueId("dev-opt-in")
    const grant = await runTest(makeRealtime(instanceConfig("livetest"), devOptIn).room(id).authorize({ actor }))
    closeAccepted(await openLive(grant.url, grant.protocols, devOptIn))
    // A development grant is worthless where a real secret is set.
    await expectRefused(await openLive(grant.url, grant.protocols, configured), 401, "Unauthorized")
    const refused = failureOf(await runExit(makeRealtime(instanceConfig("livetest"), production).room(id).authorize({ actor })))
    expect(refused._tag).toBe("ConfigurationError")
    expect(refused.message).toContain("REALTIME_ENV=production")
    await expectRefused(await openLive(grant.url, grant.protocols, production), 500, "ConfigurationError")
  })
})

describe("S3 grant lifetime: ttlSeconds is capped and a grant cannot claim a longer life or a future issue time", () => {
  it(`authorize refuses ttlSeconds above ${MAX_TTL_SECONDS} (24 h) with InvalidInput and issues the maximum`, async () => {
    const id = uniqueId("ttl-cap")
    const service = makeRealtime(instanceConfig("livetest"), configured)
    for (const ttlSeconds of [MAX_TTL_SECONDS + 1, 10 * 365 * 24 * 3600, 0, 1.5]) {
      expect(failureOf(await runExit(service.room(id).authorize({ actor, ttlSeconds })))._tag).toBe("InvalidInput")
    }
    const table = failureOf(await runExit(authorizeTable(databaseDefinition("default/dbtest")!, configured, { table: "posts", filters: { tenantId: "t1" }, actor, ttlSeconds: MAX_TTL_SECONDS + 1 })))
    expect(table._tag).toBe("InvalidInput")
    const longest = await runTest(service.room(id).authorize({ actor, ttlSeconds: MAX_TTL_SECONDS }))
    expect(longest.expiresAt - Date.now()).toBeLessThanOrEqual(MAX_TTL_SECONDS * 1000 + 1000)
    closeAccepted(await openLive(longest.url, longest.protocols, configured))
  })

  it("refuses a correctly signed grant that lives ten years, or was issued in the future beyond the 5 s skew", async () => {
    const id = uniqueId("ttl-verify")
    const path = `/realtime/livetest/rooms/${id}/ws`
    const open = async (options: { iat?: number; exp?: number }) => {
      const token = await craft("room", "livetest", id, options)
      return openLive(path, [SUBPROTOCOL, `${TOKEN_PROTOCOL_PREFIX}${token}`], configured)
    }
    const t = now()
    const tenYears = 10 * 365 * 24 * 3600
    expect((await expectRefused(await open({ iat: t, exp: t + tenYears }), 401, "Unauthorized")).reason).toBe("invalid")
    expect((await expectRefused(await open({ iat: t - tenYears, exp: t + 60 }), 401, "Unauthorized")).reason).toBe("invalid")
    expect((await expectRefused(await open({ iat: t + 3600, exp: t + 3700 }), 401, "Unauthorized")).reason).toBe("invalid")
    expect((await expectRefused(await open({ iat: t + 30, exp: t + 90 }), 401, "Unauthorized")).reason).toBe("invalid")
    // Within the skew, and exactly the longest lifetime, are accepted.
    closeAccepted(await open({ iat: t + 3, exp: t + 60 }))
    closeAccepted(await open({ iat: t - 10, exp: t - 10 + MAX_TTL_SECONDS }))
    // The change-stream route applies the same rule.
    const longTable = await craft("table", "default/dbtest", "posts", { iat: t, exp: t + tenYears, filters: { tenantId: "t1" } })
    await expectRefused(await openDb(longTable, configured), 401, "Unauthorized", longTable)
  })
})
