import { SELF } from "cloudflare:test"
import { Schema } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { ServerFrame } from "../src/schema/Protocol.js"
import { sseEvent } from "../src/actors/live/LiveSse.js"
import { runTest, uniqueId } from "./helpers.js"
import { channelGrant, eventually, liveService, roomGrant } from "./live-helpers.js"

const isServerFrame = Schema.is(ServerFrame)
const offProtocol: Array<string> = []
afterEach(() => {
  expect(offProtocol.splice(0)).toEqual([])
})

interface SseEvent {
  readonly id?: string
  readonly event: string
  readonly data: any
}

/** Read an SSE response into parsed events (and comment lines) as they arrive. */
const readSse = (response: Response) => {
  const events: Array<SseEvent> = []
  const comments: Array<string> = []
  const reader = response.body!.getReader()
  const decoder = new TextDecoder()
  let buffer = ""
  const pump = (async () => {
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }))
      if (done) return
      buffer += decoder.decode(value, { stream: true })
      let end: number
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        const fields: Record<string, string> = {}
        for (const line of block.split("\n")) {
          if (line.startsWith(":")) comments.push(line)
          else {
            const at = line.indexOf(": ")
            fields[line.slice(0, at)] = line.slice(at + 2)
          }
        }
        if (fields.event !== undefined) {
          const data = JSON.parse(fields.data)
          // Every SSE event carries a protocol frame whose type is the event name.
          if (!isServerFrame(data) || data.type !== fields.event) offProtocol.push(block)
          events.push({ id: fields.id, event: fields.event, data })
        }
      }
    }
  })()
  return {
    events,
    comments,
    waitFor: (predicate: (event: SseEvent) => boolean, timeoutMs = 3000) => eventually(() => events.find(predicate), timeoutMs, "an SSE event"),
    cancel: () => reader.cancel().catch(() => undefined),
    done: pump,
  }
}

const openSse = (url: string, token: string, lastEventId?: string) =>
  SELF.fetch(`http://example.com${url}`, {
    headers: { Authorization: `Bearer ${token}`, Accept: "text/event-stream", ...(lastEventId === undefined ? {} : { "Last-Event-ID": lastEventId }) },
  })

describe("Server-Sent Events", () => {
  it("streams ready then messages as event/data lines with id = epoch:seq", async () => {
    const roomId = uniqueId("sse")
    const room = liveService().room(roomId)
    const grant = await roomGrant(roomId, "dash", ["read"])
    const response = await openSse(grant.eventsUrl, grant.token)
    expect(response.status).toBe(200)
    expect(response.headers.get("content-type")).toContain("text/event-stream")
    const stream = readSse(response)
    const ready = await stream.waitFor((e) => e.event === "ready")
    expect(ready.data).toMatchObject({ type: "ready", kind: "room", permissions: ["read"], seq: 0 })
    const { message } = await runTest(room.publish({ type: "deploy", data: { v: 1 } }))
    const event = await stream.waitFor((e) => e.event === "message")
    expect(event.id).toBe(`${message.epoch}:${message.seq}`)
    expect(event.data.message).toEqual(message)
    // Ephemeral broadcasts and presence reach SSE too, without ids.
    await runTest(room.broadcast({ type: "flash", ephemeral: true }))
    const flash = await stream.waitFor((e) => e.event === "event")
    expect(flash.id).toBeUndefined()
    await stream.cancel()
  })

  it("resumes with Last-Event-ID: the missed messages in order, then ready; a bare seq works too", async () => {
    const channelId = uniqueId("sse-resume")
    const channel = liveService().channel(channelId)
    const grant = await channelGrant(channelId, "feed", ["read"])
    const published = []
    for (let n = 1; n <= 4; n++) published.push((await runTest(channel.publish({ type: "n", data: n }))).message)
    const stream = readSse(await openSse(grant.eventsUrl, grant.token, `${published[1].epoch}:${published[1].seq}`))
    await stream.waitFor((e) => e.event === "ready")
    expect(stream.events.map((e) => e.event)).toEqual(["message", "message", "ready"])
    expect(stream.events.slice(0, 2).map((e) => e.data.message.data)).toEqual([3, 4])
    expect(stream.events[2].data).toMatchObject({ resumed: true, replayed: 2, seq: 4 })
    await stream.cancel()
    const bare = readSse(await openSse(grant.eventsUrl, grant.token, "3"))
    await bare.waitFor((e) => e.event === "ready")
    expect(bare.events.map((e) => e.event)).toEqual(["message", "ready"])
    await bare.cancel()
    const other = readSse(await openSse(grant.eventsUrl, grant.token, "ffffffffffff:2"))
    await other.waitFor((e) => e.event === "ready")
    expect(other.events[0]).toMatchObject({ event: "discontinuity", data: { reason: "epoch" } })
    await other.cancel()
  })

  it("leaves the fan-out when the reader goes away", async () => {
    const channelId = uniqueId("sse-gone")
    const channel = liveService().channel(channelId)
    const grant = await channelGrant(channelId, "feed", ["read"])
    const stream = readSse(await openSse(grant.eventsUrl, grant.token))
    await stream.waitFor((e) => e.event === "ready")
    expect((await runTest(channel.stats())).subscribers).toBe(1)
    await stream.cancel()
    await eventually(async () => {
      // A publish to a gone reader makes the stream notice it is closed.
      await runTest(channel.publish({ type: "tick" }))
      return (await runTest(channel.stats())).subscribers === 0 ? true : undefined
    }, 3000, "subscriber to leave")
  })

  it("sends heartbeat comments while a stream is open", async () => {
    const channelId = uniqueId("sse-heartbeat")
    const grant = await channelGrant(channelId, "feed", ["read"])
    const stream = readSse(await openSse(grant.eventsUrl, grant.token))
    await stream.waitFor((e) => e.event === "ready")
    // heartbeat is 1,000 ms on livetest; the durable job writes the comment.
    await eventually(() => (stream.comments.includes(": heartbeat") ? true : undefined), 3000, "a heartbeat")
    await stream.cancel()
  })

  it("ends the stream with a close event 4001 when the grant expires, and 4004 when the channel is destroyed", async () => {
    const channelId = uniqueId("sse-expiry")
    const short = await channelGrant(channelId, "feed", ["read"], 1)
    const expiring = readSse(await openSse(short.eventsUrl, short.token))
    const long = await channelGrant(channelId, "feed2", ["read"])
    const destroyed = readSse(await openSse(long.eventsUrl, long.token))
    expect((await expiring.waitFor((e) => e.event === "close")).data).toMatchObject({ code: 4001 })
    await expiring.done
    await runTest(liveService().channel(channelId).destroy())
    expect((await destroyed.waitFor((e) => e.event === "close")).data).toMatchObject({ code: 4004 })
    await destroyed.done
    // A destroyed channel refuses new streams with 410.
    expect((await openSse(long.eventsUrl, long.token)).status).toBe(410)
  })

  it("encodes frames as SSE events", () => {
    expect(sseEvent('{"type":"ready","x":1}')).toBe('event: ready\ndata: {"type":"ready","x":1}\n\n')
    expect(sseEvent('{"type":"message","message":{"id":"msg_abc123_7","seq":7}}')).toBe(
      'id: abc123:7\nevent: message\ndata: {"type":"message","message":{"id":"msg_abc123_7","seq":7}}\n\n',
    )
  })
})
