/**
 * The one bounded SSE writer (src/sse/SseWriter.ts) and the transport's SSE events cut from their
 * socket frames (src/transport/Frames.ts), without a Durable Object around them.
 */
import { describe, expect, it } from "vitest"
import { makeSseWriter, sseComment } from "../src/sse/SseWriter.js"
import { eventFrame, sseBytesOfFrame } from "../src/transport/Frames.js"

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes)

describe("bounded SSE writer", () => {
  it("queues up to maxBufferedBytes, then drops the reader with its last words, once", async () => {
    const ends: Array<string> = []
    const writer = makeSseWriter({ maxBufferedBytes: 100, fellBehind: sseComment("behind"), onEnd: (reason) => ends.push(reason) })
    expect(writer.write(new Uint8Array(60))).toBe(true)
    expect(writer.queuedBytes()).toBe(60)
    expect(writer.write(new Uint8Array(40))).toBe(true)
    expect(writer.queuedBytes()).toBe(100)
    // One byte more than the bound: dropped, not queued.
    expect(writer.write(new Uint8Array(1))).toBe(false)
    expect(writer.isOpen()).toBe(false)
    expect(writer.write(new Uint8Array(1))).toBe(false)
    writer.end(sseComment("never written"))
    expect(ends).toEqual(["overflow"])
    const received = await new Response(writer.body).arrayBuffer()
    expect(received.byteLength).toBe(100 + sseComment("behind").byteLength)
    expect(text(new Uint8Array(received).slice(100))).toBe(": behind\n\n")
  })

  it("a reader that takes what is queued frees the budget; end() closes after the queue", async () => {
    const ends: Array<string> = []
    const writer = makeSseWriter({ maxBufferedBytes: 10, fellBehind: sseComment("behind"), onEnd: (reason) => ends.push(reason) })
    const reader = writer.body.getReader()
    for (let n = 0; n < 5; n++) {
      expect(writer.write(new TextEncoder().encode("12345678"))).toBe(true)
      expect(text((await reader.read()).value!)).toBe("12345678")
      expect(writer.queuedBytes()).toBe(0)
    }
    writer.end(new TextEncoder().encode("bye"))
    expect(text((await reader.read()).value!)).toBe("bye")
    expect((await reader.read()).done).toBe(true)
    expect(ends).toEqual(["closed"])
  })

  it("a reader that cancels ends the stream as cancelled", async () => {
    const ends: Array<string> = []
    const writer = makeSseWriter({ maxBufferedBytes: 10, fellBehind: sseComment("behind"), onEnd: (reason) => ends.push(reason) })
    await writer.body.cancel()
    expect(ends).toEqual(["cancelled"])
    expect(writer.write(new Uint8Array(1))).toBe(false)
  })
})

describe("transport SSE events from socket frames", () => {
  it("names and data are cut from the frame as a parse would give them, whatever the name holds", () => {
    const names = ["orders", 'quote"d', 'x","data":1', "back\\slash", "ünï cödé ✓", 'a\\","data":"b']
    const datas = [null, 1, "text", { nested: { list: [1, "two", null] }, "key,\"data\":": true }, [], "line\nbreak"]
    for (const name of names) {
      for (const data of datas) {
        const frame = eventFrame({ event: name, data })
        expect(text(sseBytesOfFrame(frame))).toBe(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`)
      }
    }
  })
})
