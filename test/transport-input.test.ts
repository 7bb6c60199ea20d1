/**
 * Bad input to the transport API: typed errors (Promise and Effect), the right HTTP status or
 * close code, nothing delivered.
 */
import { SELF } from "cloudflare:test"
import { Effect, Exit } from "effect"
import { describe, expect, it } from "vitest"
import { failureOf, uniqueId } from "./helpers.js"
import { connectWs } from "./transport-helpers.js"
import { limited, limitedSse, seedSse, seedWs } from "./transport-seed.js"

const rejection = async (promise: Promise<unknown>) => {
  try {
    await promise
  } catch (error) {
    return error as { _tag: string; field?: string; message: string }
  }
  throw new Error("expected a rejection")
}

describe("transport input: events", () => {
  it("refuses empty, control-character and over-long event names, and data that is not JSON, with InvalidInput naming the field", async () => {
    for (const event of ["", "line\nbreak", "tab\there", "x".repeat(129)]) {
      const error = await rejection(limited.broadcast({ event, data: 1 }))
      expect(error._tag).toBe("InvalidInput")
      expect(error.field).toBe("event")
    }
    for (const data of [() => 1, Number.NaN, new Date(), new Map(), { nested: Symbol("x") }]) {
      const error = await rejection(limited.broadcast({ event: "ok", data: data as never }))
      expect(error._tag).toBe("InvalidInput")
      expect(error.field).toBe("data")
    }
    const missing = await rejection(limited.broadcast({ data: 1 } as never))
    expect(missing).toMatchObject({ _tag: "InvalidInput", field: "event" })
    expect(missing.message).toContain("event")
  })

  it("refuses data over maxPayloadBytes with PayloadTooLarge, before anything is sent", async () => {
    const ws = await connectWs("/seed004/limits/ws", uniqueId("big"))
    const error = await rejection(limited.broadcast({ event: "big", data: "x".repeat(2000) }))
    expect(error).toMatchObject({ _tag: "PayloadTooLarge", field: "data", limit: 1024 })
    expect(await limited.broadcast({ event: "small", data: "ok" })).toMatchObject({ delivered: expect.any(Number) })
    await ws.waitForEvent("small")
    expect(ws.messages.some((message) => message.includes('"big"'))).toBe(false)
    ws.close()
  })

  it("the Effect API fails with the same tagged errors", async () => {
    const tooBig = failureOf(await Effect.runPromiseExit(limited.effect.broadcast({ event: "big", data: "x".repeat(2000) })))
    expect(tooBig._tag).toBe("PayloadTooLarge")
    const badName = failureOf(await Effect.runPromiseExit(limited.effect.toChannel("").broadcast({ event: "x" })))
    expect(badName).toMatchObject({ _tag: "InvalidInput", field: "channel" })
    const badUser = failureOf(await Effect.runPromiseExit(limited.effect.sendTo("", { event: "x" })))
    expect(badUser).toMatchObject({ _tag: "InvalidInput", field: "userId" })
    const badTarget = failureOf(await Effect.runPromiseExit(limited.effect.sendTo({ id: "" }, { event: "x" })))
    expect(badTarget).toMatchObject({ _tag: "InvalidInput", field: "target" })
    const ok = await Effect.runPromiseExit(limited.effect.toChannel("room-1").broadcast({ event: "x", data: [1, 2] }))
    expect(Exit.isSuccess(ok)).toBe(true)
  })

  it("stream.send rejects bad input with InvalidInput", async () => {
    const { response, stream } = seedSse.sse(new Request("http://example.com/", { headers: { "x-test-user": uniqueId("ada") } }))
    const error = await rejection(stream.send({ event: "bad\nname", data: 1 }))
    expect(error).toMatchObject({ _tag: "InvalidInput", field: "event" })
    await (await response).body?.cancel()
  })
})

describe("transport input: declarations and drivers", () => {
  it("a channel declared after the instance served is refused (declarations belong at module scope)", async () => {
    await limited.stats().catch(() => undefined)
    await limited.broadcast({ event: "seal", data: null })
    expect(() => limited.channel("late")).toThrow(/module scope/)
    expect(() => seedWs.channel("")).toThrow(/channel/)
  })

  it("sse() on a websocket instance and upgrade() on an sse instance are refused", async () => {
    expect(() => seedWs.sse(new Request("http://example.com/"))).toThrow(/driver/)
    const error = await rejection(seedSse.upgrade(new Request("http://example.com/", { headers: { Upgrade: "websocket" } })))
    expect(error).toMatchObject({ _tag: "InvalidInput", field: "driver" })
  })

  it("a request that is not a WebSocket upgrade gets 400", async () => {
    const response = await SELF.fetch("http://example.com/seed004/ws", { headers: { "x-test-user": "ada" } })
    expect(response.status).toBe(400)
    expect(((await response.json()) as { error: { field: string } }).error.field).toBe("upgrade")
  })

  it("an SSE instance answers a stream refused for identity with a JSON 401, never a 500", async () => {
    const response = await limitedSse.sse(new Request("http://example.com/")).response
    expect(response.status).toBe(401)
  })
})

describe("transport input: socket messages", () => {
  it("subscribing to an undeclared channel or a malformed name gets an error event; the socket stays usable", async () => {
    const ws = await connectWs("/seed004/limits/ws", uniqueId("sub"))
    ws.send(JSON.stringify({ type: "subscribe", channel: "nope" }))
    const undeclared = await ws.waitForEvent("error")
    expect(undeclared.data).toMatchObject({ tag: "InvalidInput" })
    expect(undeclared.data.message).toContain("not declared")
    ws.send(JSON.stringify({ type: "subscribe", channel: "" }))
    await ws.waitFor((message) => message.includes("error") && message !== ws.messages[0])
    ws.send(JSON.stringify({ type: "subscribe", channel: "room-1" }))
    expect((await ws.waitForEvent("subscribed")).data).toEqual({ channel: "room-1" })
    ws.send("hello")
    await ws.waitFor((message) => message === "got hello")
    ws.close()
  })

  it("a throwing onMessage gets a HandlerFailed error event and the socket keeps working", async () => {
    const ws = await connectWs("/seed004/limits/ws", uniqueId("fail"))
    ws.send("fail")
    expect((await ws.waitForEvent("error")).data).toMatchObject({ tag: "HandlerFailed" })
    ws.send("after")
    await ws.waitFor((message) => message === "got after")
    ws.close()
  })

  it("a message over maxFrameBytes closes with 1009; a binary message closes with 1003", async () => {
    const big = await connectWs("/seed004/limits/ws", uniqueId("big"))
    big.send("x".repeat(3000))
    expect((await big.closed).code).toBe(1009)
    const binary = await connectWs("/seed004/limits/ws", uniqueId("bin"))
    binary.socket.send(new Uint8Array([1, 2, 3]))
    expect((await binary.closed).code).toBe(1003)
  })

  it("more messages than the rate limit get LimitExceeded error events, and sustained abuse closes with 4009", async () => {
    const ws = await connectWs("/seed004/limits/ws", uniqueId("rate"))
    for (let i = 0; i < 40; i++) ws.send(`m${i}`)
    const limitedEvent = await ws.waitForEvent("error")
    expect(limitedEvent.data).toMatchObject({ tag: "LimitExceeded" })
    expect((await ws.closed).code).toBe(4009)
  })
})

describe("transport: Effect forms of sse and upgrade", () => {
  it("effect.upgrade answers the socket; effect.sse the stream with Effect send/close; a wrong driver fails typed", async () => {
    const response = await Effect.runPromise(seedWs.effect.upgrade(new Request("http://example.com/", { headers: { Upgrade: "websocket", "x-test-user": uniqueId("ada") } })))
    expect(response.status).toBe(101)
    const socket = response.webSocket!
    const echoed = new Promise<string>((resolve) => socket.addEventListener("message", (event) => resolve(event.data as string)))
    socket.accept()
    socket.send(JSON.stringify({ via: "effect" }))
    expect(JSON.parse(await echoed)).toEqual({ echo: { via: "effect" } })
    socket.close(1000, "done")

    const { response: streamResponse, stream } = await Effect.runPromise(seedSse.effect.sse(new Request("http://example.com/", { headers: { "x-test-user": uniqueId("ada") } })))
    expect(streamResponse.status).toBe(200)
    expect(await Effect.runPromise(stream.send({ event: "from-effect", data: 1 }))).toEqual({ delivered: 1 })
    expect(await Effect.runPromise(stream.close)).toEqual({ delivered: 1 })
    expect(await streamResponse.text()).toContain("event: from-effect\ndata: 1\n\n")

    const wrong = failureOf(await Effect.runPromiseExit(seedSse.effect.upgrade(new Request("http://example.com/", { headers: { Upgrade: "websocket" } }))))
    expect(wrong).toMatchObject({ _tag: "InvalidInput", field: "driver" })
    const wrongSse = failureOf(await Effect.runPromiseExit(seedWs.effect.sse(new Request("http://example.com/"))))
    expect(wrongSse).toMatchObject({ _tag: "InvalidInput", field: "driver" })
  })
})
