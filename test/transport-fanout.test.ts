/**
 * Fan-out of the transport hub: every broadcast reaches every connection of the instance exactly
 * once and in order, sockets and SSE streams alike. Prints the time it took (workerd test pool).
 */
import { describe, expect, it } from "vitest"
import { eventually } from "./live-helpers.js"
import { uniqueId } from "./helpers.js"
import { connectWs, openStream, type TestStream, type TestWs } from "./transport-helpers.js"
import { fanoutSse, fanoutWs } from "./transport-seed.js"

const SOCKETS = 100
const STREAMS = 20
const BROADCASTS = 25

describe("transport fan-out", () => {
  it(`${BROADCASTS} broadcasts reach each of ${SOCKETS} sockets and ${STREAMS} SSE streams once, in order`, async () => {
    const sockets: Array<TestWs> = []
    for (let i = 0; i < SOCKETS; i++) sockets.push(await connectWs("/seed004/fanout/ws", uniqueId("u")))
    const streams: Array<TestStream> = []
    for (let i = 0; i < STREAMS; i++) streams.push(await openStream("/seed004/fanout/sse", uniqueId("u")))
    const numbers = (messages: ReadonlyArray<string>) =>
      messages.flatMap((message) => {
        const frame = JSON.parse(message) as { event: string; data: number }
        return frame.event === "n" ? [frame.data] : []
      })
    const started = performance.now()
    const delivered: Array<number> = []
    for (let n = 1; n <= BROADCASTS; n++) {
      delivered.push((await fanoutWs.broadcast({ event: "n", data: n })).delivered)
      delivered.push((await fanoutSse.broadcast({ event: "n", data: n })).delivered)
    }
    await eventually(
      () => (sockets.every((ws) => numbers(ws.messages).length === BROADCASTS) && streams.every((stream) => stream.events.filter((event) => event.event === "n").length === BROADCASTS) ? true : undefined),
      20_000,
      "every delivery",
    )
    const elapsed = performance.now() - started
    const expected = Array.from({ length: BROADCASTS }, (_, i) => i + 1)
    for (const ws of sockets) expect(numbers(ws.messages)).toEqual(expected)
    for (const stream of streams) expect(stream.events.filter((event) => event.event === "n").map((event) => event.data)).toEqual(expected)
    expect(delivered).toEqual(Array.from({ length: BROADCASTS }, () => [SOCKETS, STREAMS]).flat())
    console.log(`transport fan-out: ${BROADCASTS} x (${SOCKETS} sockets + ${STREAMS} streams) = ${BROADCASTS * (SOCKETS + STREAMS)} deliveries in ${elapsed.toFixed(0)} ms (workerd test pool)`)
    for (const ws of sockets) ws.close()
    await Promise.all(streams.map((stream) => stream.close()))
  }, 60_000)
})
