/**
 * Commit-to-delivery latency of database changes: this library (shard → outbox → drain → hub →
 * fan-out) against the raw baseline (insert + outbox row + send in one turn of one object), at a
 * paced write rate with 1 and 100 subscribers. Latency = time a subscriber receives the change
 * minus the commit time carried in the change (`createdAt`), both read from the same clock.
 *
 * Run: `npx vitest run --config bench/vitest.config.ts` (figures are printed; see BENCHMARKS.md).
 */
import { env, SELF } from "cloudflare:test"
import { describe, expect, it } from "vitest"
import { testDb } from "../../test/db-schema.js"

const DURATION_MS = Number((env as Record<string, unknown>).BENCH_DURATION_MS ?? 2000)
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const percentile = (sorted: ReadonlyArray<number>, p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]

interface Run {
  readonly p50: number
  readonly p99: number
  readonly max: number
  readonly delivered: number
}

/** Open sockets, pace `rate` writes/s for DURATION_MS, and collect each delivery's latency. */
const measure = async (sockets: ReadonlyArray<WebSocket>, rate: number, write: (i: number) => Promise<unknown>): Promise<Run> => {
  const latencies: Array<number> = []
  for (const socket of sockets) {
    socket.addEventListener("message", (event) => {
      const frame = JSON.parse(event.data as string) as { type: string; createdAt?: string }
      if (frame.type === "database.change") latencies.push(Date.now() - Date.parse(frame.createdAt!))
    })
    socket.accept()
  }
  const count = Math.round((rate * DURATION_MS) / 1000)
  const start = Date.now()
  const writes: Array<Promise<unknown>> = []
  for (let i = 0; i < count; i++) {
    const due = start + (i * 1000) / rate
    const wait = due - Date.now()
    if (wait > 0) await sleep(wait)
    writes.push(write(i))
  }
  await Promise.all(writes)
  const expected = count * sockets.length
  const deadline = Date.now() + 30_000
  while (latencies.length < expected && Date.now() < deadline) await sleep(20)
  for (const socket of sockets) socket.close(1000, "done")
  const sorted = [...latencies].sort((a, b) => a - b)
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted[sorted.length - 1], delivered: latencies.length }
}

const library = async (rate: number, subscribers: number): Promise<Run> => {
  const tenant = `bench-${rate}-${subscribers}-${Date.now().toString(36)}`
  const grant = await testDb.realtime.authorize({ table: "posts", filters: { tenantId: tenant }, actor: { type: "service", id: "bench" }, ttlSeconds: 600 })
  const sockets = await Promise.all(
    Array.from({ length: subscribers }, async () => {
      const response = await SELF.fetch(`http://example.com${grant.url}`, { headers: { Upgrade: "websocket", "Sec-WebSocket-Protocol": grant.protocols.join(", ") } })
      return response.webSocket!
    }),
  )
  return measure(sockets, rate, (i) =>
    testDb.table("posts").insert({ id: `${tenant}-${i}`, tenantId: tenant, authorId: "bench", slug: `${tenant}-${i}`, title: `post ${i}` }),
  )
}

const baseline = async (rate: number, subscribers: number): Promise<Run> => {
  const namespace = (env as unknown as { RAW_BASELINE: DurableObjectNamespace }).RAW_BASELINE
  const stub = namespace.get(namespace.idFromName(`baseline-${rate}-${subscribers}-${Date.now()}`)) as unknown as DurableObjectStub & {
    write(row: { id: string; tenantId: string; title: string }): Promise<number>
  }
  const sockets = await Promise.all(
    Array.from({ length: subscribers }, async () => (await stub.fetch("http://baseline/ws", { headers: { Upgrade: "websocket" } })).webSocket!),
  )
  return measure(sockets, rate, (i) => stub.write({ id: `row-${i}`, tenantId: "t", title: `post ${i}` }))
}

describe("commit-to-delivery latency", () => {
  for (const rate of [100, 500]) {
    for (const subscribers of [1, 100]) {
      it(`${rate} writes/s, ${subscribers} subscriber(s)`, async () => {
        const raw = await baseline(rate, subscribers)
        const ours = await library(rate, subscribers)
        const writes = Math.round((rate * DURATION_MS) / 1000)
        console.log(
          `BENCH rate=${rate}/s subscribers=${subscribers} writes=${writes} | library p50=${ours.p50}ms p99=${ours.p99}ms max=${ours.max}ms delivered=${ours.delivered} | baseline p50=${raw.p50}ms p99=${raw.p99}ms max=${raw.max}ms delivered=${raw.delivered} | ratio p50=${(ours.p50 / Math.max(1, raw.p50)).toFixed(1)} p99=${(ours.p99 / Math.max(1, raw.p99)).toFixed(1)}`,
        )
        expect(ours.delivered).toBe(writes * subscribers)
        expect(raw.delivered).toBe(writes * subscribers)
      })
    }
  }
})
