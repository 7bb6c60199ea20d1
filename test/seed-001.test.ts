/**
 * Seed 001 (Realtime event transport), every example as written: the example app serves the
 * document's three routes (examples/routes/feeds.ts) with their handler bodies unchanged, on an
 * instance declared as the document declares it (`realtime({ name: "transport", historyLimit: 500 })`).
 *
 * Adaptations: imports and the router. The router requires a session for the two write routes
 * (the document leaves producer authentication to the app; an open producer route would let anyone
 * inject events into every dashboard). "Continue from the cursor returned by the previous page"
 * is `catchUpCursor` (README, History).
 */
import { SELF } from "cloudflare:test"
import { beforeAll, describe, expect, it } from "vitest"
import { feeds } from "../examples/routes/feeds.js"
import { login, type Session } from "./example-session.js"
import { uniqueId } from "./helpers.js"

interface Stored {
  readonly id: string
  readonly seq: number
  readonly type: string
  readonly data: Record<string, unknown>
  readonly metadata?: Record<string, unknown>
  readonly idempotencyKey?: string
}
interface Page {
  readonly messages: ReadonlyArray<Stored>
  readonly nextCursor: string | null
  readonly catchUpCursor: string
  readonly epoch: string
}

let producer: Session
beforeAll(async () => {
  producer = await login("Producer")
})

const postEvent = (feedId: string, body: unknown) =>
  SELF.fetch(`http://example.com/feeds/${feedId}/events`, { method: "POST", headers: producer.headers(), body: JSON.stringify(body) })

const getEvents = async (feedId: string, query = ""): Promise<Page> => {
  const response = await SELF.fetch(`http://example.com/feeds/${feedId}/events${query}`)
  expect(response.status).toBe(200)
  return (await response.json()) as Page
}

describe("seed 001: event transport", () => {
  it("POST /feeds/:feedId/events broadcasts the normalized event on channel feed_<feedId>", async () => {
    const feedId = uniqueId("feed")
    const response = await postEvent(feedId, { type: "deployment.started", eventId: "evt_1", payload: { service: "api" }, source: "ci" })
    expect(response.status).toBe(200)
    const result = (await response.json()) as { message: Stored; duplicate: boolean; delivered: number }
    expect(result).toMatchObject({ duplicate: false, delivered: 0 })
    expect(result.message).toMatchObject({
      seq: 1,
      type: "deployment.started",
      data: { feedId, eventId: "evt_1", payload: { service: "api" } },
      metadata: { source: "ci" },
      idempotencyKey: "evt_1",
    })
    expect(Date.parse(result.message.data.receivedAt as string)).toBeGreaterThan(0)
    // The same channel, read through the library: the route wrote to feed_<feedId>.
    expect((await feeds.channel(`feed_${feedId}`).history()).messages.map((m) => m.id)).toEqual([result.message.id])
    // `source` defaults to "api".
    const plain = (await (await postEvent(feedId, { type: "deployment.finished", eventId: "evt_2", payload: {} })).json()) as { message: Stored }
    expect(plain.message.metadata).toEqual({ source: "api" })
  })

  it("a producer retry (same eventId, a fresh receivedAt) is safe: the original event, duplicate: true, stored once", async () => {
    const feedId = uniqueId("feed-retry")
    const first = (await (await postEvent(feedId, { type: "build.finished", eventId: "evt_42", payload: { ok: true } })).json()) as { message: Stored }
    await new Promise((resolve) => setTimeout(resolve, 5))
    const retry = await postEvent(feedId, { type: "build.finished", eventId: "evt_42", payload: { ok: true } })
    expect(retry.status).toBe(200)
    expect(await retry.json()).toEqual({ message: first.message, duplicate: true, delivered: 0 })
    expect((await getEvents(feedId)).messages).toHaveLength(1)
  })

  it("GET /feeds/:feedId/events pages history, and a reconnecting dashboard continues from the cursor", async () => {
    const feedId = uniqueId("feed-dashboard")
    for (let i = 1; i <= 5; i++) await postEvent(feedId, { type: "metric", eventId: `m${i}`, payload: { i } })
    // limit defaults to 100; newest first.
    const page = await getEvents(feedId)
    expect(page.messages.map((m) => m.data.payload)).toEqual([{ i: 5 }, { i: 4 }, { i: 3 }, { i: 2 }, { i: 1 }])
    expect(page.nextCursor).toBeNull()
    const small = await getEvents(feedId, "?limit=2")
    expect(small.messages.map((m) => m.data.eventId)).toEqual(["m5", "m4"])
    const older = await getEvents(feedId, `?limit=2&cursor=${encodeURIComponent(small.nextCursor!)}`)
    expect(older.messages.map((m) => m.data.eventId)).toEqual(["m3", "m2"])
    // The dashboard disconnects; three events arrive; it reconnects and continues from its cursor.
    for (let i = 6; i <= 8; i++) await postEvent(feedId, { type: "metric", eventId: `m${i}`, payload: { i } })
    const missed = await getEvents(feedId, `?cursor=${encodeURIComponent(page.catchUpCursor)}`)
    expect(missed.messages.map((m) => m.data.eventId)).toEqual(["m6", "m7", "m8"])
    const nothingYet = await getEvents(feedId, `?cursor=${encodeURIComponent(missed.catchUpCursor)}`)
    expect(nothingYet.messages).toEqual([])
    // Bad query values are typed errors, not 500s.
    expect((await SELF.fetch(`http://example.com/feeds/${feedId}/events?limit=zero`)).status).toBe(400)
    expect((await SELF.fetch(`http://example.com/feeds/${feedId}/events?cursor=garbage`)).status).toBe(400)
  })

  it("POST /feeds/:feedId/control publishes a feed.control command on the same stream, idempotent on commandId", async () => {
    const feedId = uniqueId("feed-control")
    const post = () =>
      SELF.fetch(`http://example.com/feeds/${feedId}/control`, {
        method: "POST",
        headers: producer.headers(),
        body: JSON.stringify({ action: "pause", target: "ingest", commandId: "cmd_1" }),
      })
    const response = await post()
    expect(response.status).toBe(200)
    const result = (await response.json()) as { message: Stored; duplicate: boolean }
    expect(result.duplicate).toBe(false)
    expect(result.message).toMatchObject({ type: "feed.control", data: { action: "pause", target: "ingest" }, idempotencyKey: "cmd_1" })
    expect(Date.parse(result.message.data.requestedAt as string)).toBeGreaterThan(0)
    expect(((await (await post()).json()) as { duplicate: boolean }).duplicate).toBe(true)
    await postEvent(feedId, { type: "metric", eventId: "after-control", payload: {} })
    expect((await getEvents(feedId)).messages.map((m) => m.type)).toEqual(["metric", "feed.control"])
  })

  it("the router: writes need a session; a body without type is a 400 naming the field", async () => {
    const feedId = uniqueId("feed-guard")
    const anonymous = await SELF.fetch(`http://example.com/feeds/${feedId}/events`, { method: "POST", body: JSON.stringify({ type: "x", eventId: "e" }) })
    expect(anonymous.status).toBe(401)
    const missingType = await postEvent(feedId, { eventId: "e1", payload: {} })
    expect(missingType.status).toBe(400)
    expect(((await missingType.json()) as { error: { field: string; message: string } }).error).toMatchObject({
      field: "type",
      message: "type: is missing (a non-empty string of at most 128 characters)",
    })
    const notJson = await SELF.fetch(`http://example.com/feeds/${feedId}/control`, { method: "POST", headers: producer.headers(), body: "{" })
    expect(notJson.status).toBe(400)
    expect((await getEvents(feedId)).messages).toEqual([])
  })
})
