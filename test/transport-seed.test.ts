/**
 * Seed 004, every example as written (test/transport-seed.ts holds the transcription): SSE
 * notifications, broadcast and sendTo, WebSocket echo, channels.
 */
import { describe, expect, it } from "vitest"
import { eventually } from "./live-helpers.js"
import { uniqueId } from "./helpers.js"
import { connectWs, eventsNamed, openStream, openWs } from "./transport-helpers.js"
import { closedSockets, newOrder, publish } from "./transport-seed.js"

describe("seed 004: Server-Sent Events", () => {
  it("GET returns an event stream and stream.send reaches that connection as `event: notification`", async () => {
    const stream = await openStream("/seed004/sse", uniqueId("ada"))
    expect(stream.response.status).toBe(200)
    expect(stream.response.headers.get("content-type")).toContain("text/event-stream")
    const notification = await stream.waitFor((event) => event.event === "notification")
    expect(notification.data).toEqual({ message: "You have a new message" })
    await stream.close()
  })

  it("broadcast reaches every connection; sendTo(userId) reaches every connection of that user and no other", async () => {
    const ada = uniqueId("ada")
    const bob = uniqueId("bob")
    const adaPhone = await openStream("/seed004/sse", ada)
    const adaLaptop = await openStream("/seed004/sse", ada)
    const bobStream = await openStream("/seed004/sse", bob)
    const latest = { version: uniqueId("v") }
    const order = { id: uniqueId("order"), total: 42 }
    await publish(latest, ada, order)
    for (const stream of [adaPhone, adaLaptop, bobStream]) {
      expect((await stream.waitFor((event) => event.event === "update" && (event.data as { version: string }).version === latest.version)).data).toEqual(latest)
    }
    expect((await adaPhone.waitFor((event) => event.event === "order-update")).data).toEqual(order)
    expect((await adaLaptop.waitFor((event) => event.event === "order-update")).data).toEqual(order)
    // Bob got the broadcast after the order update was sent, so a stray order update would be here by now.
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(eventsNamed(bobStream, "order-update")).toEqual([])
    await Promise.all([adaPhone.close(), adaLaptop.close(), bobStream.close()])
  })
})

describe("seed 004: WebSocket support", () => {
  it("onMessage gets the raw text and socket.send answers; onClose runs when the client leaves", async () => {
    const ws = await connectWs("/seed004/ws", uniqueId("ada"))
    ws.send(JSON.stringify({ hello: "world" }))
    expect(JSON.parse(await ws.waitFor((message) => message.includes("echo")))).toEqual({ echo: { hello: "world" } })
    const before = closedSockets.length
    ws.close()
    await eventually(() => (closedSockets.length > before ? true : undefined), 3000, "onClose")
  })

  it("handlers passed to upgrade() at request time are refused loudly with a typed error naming the fix", async () => {
    const response = await (await openWs("/seed004/ws-inline", uniqueId("ada"))).response
    expect(response.status).toBe(500)
    const body = (await response.json()) as { error: { _tag: string; message: string } }
    expect(body.error._tag).toBe("InvalidInput")
    expect(body.error.message).toContain("createRealtime")
  })
})

describe("seed 004: Channels", () => {
  it("a subscribe message runs onJoin (sendTo(socket) reaches it); toChannel(...).broadcast reaches subscribers only", async () => {
    const ada = await connectWs("/seed004/ws", uniqueId("ada"))
    const bob = await connectWs("/seed004/ws", uniqueId("bob"))
    ada.send(JSON.stringify({ type: "subscribe", channel: "orders" }))
    const connected = await ada.waitForEvent("connected")
    expect(connected.data.channel).toBe("orders")
    await ada.waitForEvent("subscribed")
    const order = { id: uniqueId("order") }
    await newOrder(order)
    expect((await ada.waitForEvent("new-order")).data).toEqual(order)
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(bob.messages.filter((message) => message.includes("new-order"))).toEqual([])
    expect(bob.messages.filter((message) => message.includes("connected"))).toEqual([])
    ada.close()
    bob.close()
  })
})
