/**
 * The transport hub beyond the seed's examples: hibernation, maxConnections, heartbeats, sendTo a
 * user vs one connection, identity (fail closed), and the bounded SSE buffer.
 */
import { env, evictDurableObject, SELF } from "cloudflare:test"
import { describe, expect, it } from "vitest"
import { objectName } from "../src/internal/rpc.js"
import { eventually } from "./live-helpers.js"
import { uniqueId } from "./helpers.js"
import { connectWs, eventsNamed, openStream, openWs } from "./transport-helpers.js"
import { leftRoom, limited, limitedSse, seedSse, seedWs } from "./transport-seed.js"

const hubStub = (name: string) => {
  const namespace = (env as unknown as { REALTIME_TRANSPORT: DurableObjectNamespace }).REALTIME_TRANSPORT
  return namespace.get(namespace.idFromName(objectName(`transport:${name}`, "transportHub", "hub")))
}

describe("transport hub: hibernation", () => {
  it("after the hub hibernates, onMessage still runs for the hibernated socket and its channel subscription still receives broadcasts", async () => {
    const ws = await connectWs("/seed004/ws", uniqueId("ada"))
    ws.send(JSON.stringify({ type: "subscribe", channel: "orders" }))
    await ws.waitForEvent("subscribed")
    await evictDurableObject(hubStub("websocket"), { webSockets: "hibernate" })

    ws.send(JSON.stringify({ after: "hibernation" }))
    expect(JSON.parse(await ws.waitFor((message) => message.includes("hibernation")))).toEqual({ echo: { after: "hibernation" } })
    await evictDurableObject(hubStub("websocket"), { webSockets: "hibernate" })
    const order = { id: uniqueId("order") }
    await seedWs.toChannel("orders").broadcast({ event: "new-order", data: order })
    expect((await ws.waitForEvent("new-order")).data).toEqual(order)
    ws.close()
  })
})

describe("transport hub: maxConnections", () => {
  it("refuses the socket over maxConnections with 503 LimitExceeded, and accepts again once one closed", async () => {
    const open = [await connectWs("/seed004/limits/ws", uniqueId("a")), await connectWs("/seed004/limits/ws", uniqueId("b")), await connectWs("/seed004/limits/ws", uniqueId("c"))]
    const refused = await openWs("/seed004/limits/ws", uniqueId("d"))
    expect(refused.ws).toBeUndefined()
    expect(refused.response.status).toBe(503)
    expect(((await refused.response.json()) as { error: { _tag: string; limit: string } }).error).toMatchObject({ _tag: "LimitExceeded", limit: "connections" })
    open[0]!.close()
    await open[0]!.closed
    await eventually(async () => ((await limited.stats()).connections === 2 ? true : undefined), 3000, "the close to be seen")
    const again = await connectWs("/seed004/limits/ws", uniqueId("e"))
    for (const ws of [...open.slice(1), again]) ws.close()
  })

  it("refuses the SSE stream over maxConnections with 503", async () => {
    const first = await openStream("/seed004/limits/sse", uniqueId("a"))
    const second = await openStream("/seed004/limits/sse", uniqueId("b"))
    const third = await openStream("/seed004/limits/sse", uniqueId("c"))
    expect([first.response.status, second.response.status, third.response.status]).toEqual([200, 200, 503])
    expect(((await third.response.json()) as { error: { _tag: string } }).error._tag).toBe("LimitExceeded")
    await first.close()
    await second.close()
    await eventually(async () => ((await limitedSse.stats()).streams === 0 ? true : undefined), 3000, "the streams to close")
  })
})

describe("transport hub: heartbeats", () => {
  it("SSE streams get a heartbeat comment and sockets a heartbeat event every `heartbeat` ms", async () => {
    const stream = await openStream("/seed004/limits/sse", uniqueId("beat"))
    const ws = await connectWs("/seed004/limits/ws", uniqueId("beat"))
    await eventually(() => (stream.comments.filter((comment) => comment === "heartbeat").length >= 2 ? true : undefined), 5000, "two SSE heartbeats")
    const beats = await eventually(() => {
      const found = ws.messages.filter((message) => message === JSON.stringify({ event: "heartbeat", data: null }))
      return found.length >= 2 ? found : undefined
    }, 5000, "two socket heartbeats")
    expect(beats.length).toBeGreaterThanOrEqual(2)
    // Heartbeats are comments: EventSource listeners never see them as events.
    expect(eventsNamed(stream, "heartbeat")).toEqual([])
    await stream.close()
    ws.close()
  })
})

describe("transport hub: sendTo", () => {
  it("sendTo(userId) reaches every connection of the user; sendTo(stream) and sendTo(socket) reach exactly one", async () => {
    const ada = uniqueId("ada")
    const request = () => new Request("http://example.com/seed004/sse", { headers: { "x-test-user": ada } })
    const phone = seedSse.sse(request())
    const laptop = seedSse.sse(request())
    const readers = await Promise.all([phone.response, laptop.response].map(async (response) => {
      const body = (await response).body!.getReader()
      const decoder = new TextDecoder()
      const seen = { text: "" }
      void (async () => {
        for (;;) {
          const { done, value } = await body.read().catch(() => ({ done: true, value: undefined }))
          if (done) return
          seen.text += decoder.decode(value, { stream: true })
        }
      })()
      return { seen, cancel: () => body.cancel() }
    }))
    const [phoneSeen, laptopSeen] = readers
    expect(await seedSse.sendTo(ada, { event: "for-ada", data: 1 })).toEqual({ delivered: 2 })
    expect(await seedSse.sendTo(phone.stream, { event: "for-phone", data: 2 })).toEqual({ delivered: 1 })
    expect(await seedSse.sendTo({ id: laptop.stream.id }, { event: "for-laptop", data: 3 })).toEqual({ delivered: 1 })
    await eventually(() => (phoneSeen!.seen.text.includes("for-phone") && laptopSeen!.seen.text.includes("for-laptop") ? true : undefined))
    expect(phoneSeen!.seen.text).toContain("event: for-ada\ndata: 1\n\n")
    expect(laptopSeen!.seen.text).toContain("event: for-ada\ndata: 1\n\n")
    expect(phoneSeen!.seen.text).not.toContain("for-laptop")
    expect(laptopSeen!.seen.text).not.toContain("for-phone")
    await Promise.all(readers.map((reader) => reader.cancel()))
  })

  it("sendTo(socket) by the id a handler saw reaches that socket only, not the user's other socket", async () => {
    const ada = uniqueId("ada")
    const first = await connectWs("/seed004/limits/ws", ada)
    const second = await connectWs("/seed004/limits/ws", ada)
    first.send("whoami")
    const id = (await first.waitFor((message) => message.startsWith("id "))).slice(3)
    expect(await limited.sendTo(ada, { event: "both", data: null })).toEqual({ delivered: 2 })
    await first.waitForEvent("both")
    await second.waitForEvent("both")
    expect(await limited.sendTo({ id }, { event: "only-first", data: null })).toEqual({ delivered: 1 })
    await first.waitForEvent("only-first")
    // One hub sends to a socket in order: once a later send to both reached the second socket, an
    // "only-first" meant for it would have arrived before (no real-time wait needed).
    expect(await limited.sendTo(ada, { event: "both-again", data: null })).toEqual({ delivered: 2 })
    await second.waitForEvent("both-again")
    expect(second.messages.filter((message) => message.includes("only-first"))).toEqual([])
    first.close()
    second.close()
  })

  it("a stream's sends before it opened arrive first and in order; sends to a closed stream deliver nothing", async () => {
    const request = new Request("http://example.com/seed004/sse", { headers: { "x-test-user": uniqueId("ada") } })
    const { response, stream } = seedSse.sse(request)
    const sent = [stream.send({ event: "one", data: 1 }), stream.send({ event: "two", data: 2 })]
    const body = (await response).body!.getReader()
    const third = await stream.send({ event: "three", data: 3 })
    expect(await Promise.all(sent)).toEqual([{ delivered: 1 }, { delivered: 1 }])
    expect(third).toEqual({ delivered: 1 })
    let text = ""
    const decoder = new TextDecoder()
    while (!text.includes("event: three")) text += decoder.decode((await body.read()).value, { stream: true })
    expect(text.indexOf("event: one")).toBeLessThan(text.indexOf("event: two"))
    expect(text.indexOf("event: two")).toBeLessThan(text.indexOf("event: three"))
    await stream.close()
    expect(await stream.send({ event: "late", data: 4 })).toEqual({ delivered: 0 })
    await body.cancel()
  })
})

describe("transport hub: channels", () => {
  it("unsubscribe runs onLeave and stops channel broadcasts; a closing socket leaves its channels (onLeave runs)", async () => {
    const ada = uniqueId("ada")
    const bob = uniqueId("bob")
    const adaWs = await connectWs("/seed004/limits/ws", ada)
    const bobWs = await connectWs("/seed004/limits/ws", bob)
    for (const ws of [adaWs, bobWs]) {
      ws.send(JSON.stringify({ type: "subscribe", channel: "room-1" }))
      await ws.waitForEvent("subscribed")
    }
    adaWs.send(JSON.stringify({ type: "unsubscribe", channel: "room-1" }))
    expect((await adaWs.waitForEvent("unsubscribed")).data).toEqual({ channel: "room-1" })
    expect(leftRoom).toContain(ada)
    // Other tests' sockets may be in room-1 too: count only these two.
    await limited.toChannel("room-1").broadcast({ event: "after-leave", data: null })
    await bobWs.waitForEvent("after-leave")
    bobWs.close()
    await eventually(() => (leftRoom.includes(bob) ? true : undefined), 3000, "onLeave for the closed socket")
    expect(adaWs.messages.some((message) => message.includes("after-leave"))).toBe(false)
    adaWs.close()
  })
})

describe("transport hub: the instance's API inside its own handlers", () => {
  it("stats() and close(socket) called from onMessage are answered in the hub (no RPC to itself, which would wait for itself)", async () => {
    const ws = await connectWs("/seed004/limits/ws", uniqueId("self"))
    ws.send("stats")
    const stats = JSON.parse((await ws.waitFor((message) => message.startsWith("stats "), 5000)).slice(6)) as { sockets: number }
    expect(stats.sockets).toBeGreaterThanOrEqual(1)
    ws.send("bye")
    expect((await ws.closed).code).toBe(1000)
  })
})

describe("transport hub: identity fails closed", () => {
  it("refuses SSE and WebSocket requests identify() does not recognise with 401, and an instance without identify refuses everyone", async () => {
    const stream = await openStream("/seed004/sse")
    expect(stream.response.status).toBe(401)
    expect(((await stream.response.json()) as { error: { _tag: string } }).error._tag).toBe("Unauthorized")
    const socket = await openWs("/seed004/ws")
    expect(socket.ws).toBeUndefined()
    expect(socket.response.status).toBe(401)
    const anonymous = await openStream("/seed004/anonymous/sse", "ada")
    expect(anonymous.response.status).toBe(401)
    expect(((await anonymous.response.json()) as { error: { message: string } }).error.message).toContain("identify")
  })

  it("an identify that throws or answers a non-actor refuses with ConfigurationError (500), as realtime() instances do", async () => {
    for (const user of ["ada", "garbage"]) {
      const stream = await openStream("/seed004/broken-identify/sse", user)
      expect(stream.response.status).toBe(500)
      expect(((await stream.response.json()) as { error: { _tag: string } }).error._tag).toBe("ConfigurationError")
    }
  })
})

describe("transport hub: bounded SSE buffer", () => {
  it("drops a stream whose reader falls more than maxBufferedBytes behind; a reader that keeps up keeps going", async () => {
    const slowUser = uniqueId("slow")
    // Nobody reads this stream's body.
    const slow = await SELF.fetch("http://example.com/seed004/limits/sse", { headers: { "x-test-user": slowUser } })
    expect(slow.status).toBe(200)
    const fast = await openStream("/seed004/limits/sse", uniqueId("fast"))
    const chunk = "x".repeat(8 * 1024)
    let delivered = 1
    for (let i = 0; i < 2000 && delivered > 0; i++) delivered = (await limitedSse.sendTo(slowUser, { event: "bulk", data: chunk })).delivered
    expect(delivered).toBe(0)
    expect((await limitedSse.stats()).streams).toBe(1)
    // The reader that kept up still gets events.
    await limitedSse.broadcast({ event: "still-here", data: true })
    await fast.waitFor((event) => event.event === "still-here")
    await fast.close()
    // The slow reader, reading at last, finds its stream ended with the reason, not cut mid-event.
    const text = await slow.text()
    expect(text.endsWith(": closing: this reader fell too far behind (maxBufferedBytes); reconnect\n\n")).toBe(true)
  })
})
