/**
 * R6 — slow SSE readers cannot grow an object's memory without bound (issue 13, item 6).
 *
 * Each SSE stream may have `sseBufferBytes` (default 1 MiB) queued for its reader. A reader that
 * falls further behind gets a final comment saying why and a `close` event (4010), and the stream
 * ends; it reconnects with `Last-Event-ID` and history replays exactly what it had not read.
 */
import { SELF } from "cloudflare:test"
import { describe, expect, it } from "vitest"
import { CloseCode } from "../src/RealtimeError.js"
import { makeRealtime } from "../src/Realtime.js"
import { instanceConfig } from "../src/Config.js"
import { env } from "cloudflare:test"
import { runTest, uniqueId } from "./helpers.js"
import "./worker.js"

const sseService = () => makeRealtime(instanceConfig("ssetest"), env as unknown as Record<string, unknown>)
const BUFFER = instanceConfig("ssetest").sseBufferBytes

const openSse = (url: string, token: string, lastEventId?: string) =>
  SELF.fetch(`http://example.com${url}`, {
    headers: { Authorization: `Bearer ${token}`, ...(lastEventId === undefined ? {} : { "Last-Event-ID": lastEventId }) },
  })

interface Drained {
  readonly bytes: number
  readonly ids: ReadonlyArray<string>
  readonly seqs: ReadonlyArray<number>
  readonly comments: ReadonlyArray<string>
  readonly close: { code: number; reason: string } | undefined
  readonly ready: boolean
}

/** Read a whole SSE response (until the server ends it, or `stopAtReady`). */
const drain = async (response: Response, stopAtReady = false): Promise<Drained> => {
  const reader = response.body!.getReader()
  const decoder = new TextDecoder()
  let buffer = ""
  let bytes = 0
  const ids: Array<string> = []
  const seqs: Array<number> = []
  const comments: Array<string> = []
  let close: Drained["close"]
  let ready = false
  for (;;) {
    const { value, done } = await reader.read()
    if (done) break
    bytes += value.byteLength
    buffer += decoder.decode(value, { stream: true })
    let end: number
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end)
      buffer = buffer.slice(end + 2)
      let event = ""
      let data = ""
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) comments.push(line)
        else if (line.startsWith("id: ")) ids.push(line.slice(4))
        else if (line.startsWith("event: ")) event = line.slice(7)
        else if (line.startsWith("data: ")) data = line.slice(6)
      }
      if (event === "message") seqs.push(JSON.parse(data).message.seq)
      if (event === "close") close = JSON.parse(data)
      if (event === "ready") ready = true
    }
    if (ready && stopAtReady) {
      await reader.cancel()
      break
    }
  }
  return { bytes, ids, seqs, comments, close, ready }
}

describe("R6 slow SSE readers: a bounded buffer per stream, then close and exact resume", () => {
  it("8 paused readers + 500 × 60 KB publishes: queued bytes stay under sseBufferBytes, readers are closed with 4010, one catches up exactly", async () => {
    const channelId = uniqueId("sse-slow")
    const channel = sseService().channel(channelId)
    const grant = await runTest(channel.authorize({ actor: { type: "user", id: "dashboard" }, permissions: ["read"] }))
    const paused = await Promise.all(Array.from({ length: 8 }, () => openSse(grant.eventsUrl, grant.token)))
    for (const response of paused) expect(response.status).toBe(200)
    const payload = "x".repeat(60_000)
    let largestQueue = 0
    const started = Date.now()
    for (let n = 1; n <= 500; n++) {
      await runTest(channel.publish({ type: "blob", data: { n, payload } }))
      if (n <= 40 || n % 25 === 0) largestQueue = Math.max(largestQueue, (await runTest(channel.state())).sse?.largestQueueBytes ?? 0)
    }
    const publishMs = Date.now() - started
    const after = await runTest(channel.state())
    // Every paused reader was dropped: nothing is queued for them any more.
    expect(after.sse).toMatchObject({ streams: 0, queuedBytes: 0 })
    expect(largestQueue).toBeLessThanOrEqual(BUFFER)
    expect(largestQueue).toBeGreaterThan(BUFFER / 2)

    const drained = await Promise.all(paused.map((response) => drain(response)))
    for (const result of drained) {
      expect(result.close).toMatchObject({ code: CloseCode.slowReader })
      expect(result.comments.some((c) => /fell \d+ bytes behind/.test(c))).toBe(true)
      // What a paused reader was ever sent: at most one buffer (plus the last words).
      expect(result.bytes).toBeLessThanOrEqual(BUFFER + 1024)
      expect(result.seqs).toEqual(result.seqs.map((_, i) => i + 1))
    }

    // One reader catches up from its Last-Event-ID, reconnecting each time it falls a buffer behind.
    const seen = [...drained[0]!.seqs]
    let lastId = drained[0]!.ids[drained[0]!.ids.length - 1]!
    let reconnects = 0
    for (;;) {
      const result = await drain(await openSse(grant.eventsUrl, grant.token, lastId), true)
      reconnects++
      seen.push(...result.seqs)
      if (result.ids.length > 0) lastId = result.ids[result.ids.length - 1]!
      if (result.ready) break
      expect(result.close).toMatchObject({ code: CloseCode.slowReader })
      expect(reconnects).toBeLessThan(100)
    }
    expect(seen).toEqual(Array.from({ length: 500 }, (_, i) => i + 1))
    console.log(
      `R6 slow SSE figures: ${JSON.stringify({
        readers: 8,
        published: "500 x 60 KB",
        publishMs,
        sseBufferBytes: BUFFER,
        largestQueueBytes: largestQueue,
        bytesSentToEachPausedReader: Math.max(...drained.map((d) => d.bytes)),
        queuedAfter: after.sse?.queuedBytes,
        catchUpReconnects: reconnects,
        caughtUp: `${seen.length}/500 in order, no duplicate`,
      })}`,
    )
  })
})
