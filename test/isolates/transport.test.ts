/**
 * The transport API (seed 004) across isolates: the hub runs in the objects' script, the Worker
 * that upgrades and broadcasts in another. Handlers and channels come from that script's own
 * module-scope declaration; an instance it never declared is refused loudly.
 */
import { SELF } from "cloudflare:test"
import { describe, expect, it } from "vitest"
import { xiTransport } from "./transport-app.js"

let counter = 0
const uniqueId = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${(counter++).toString(36)}`

const connect = async (path: string) => {
  const response = await SELF.fetch(`http://example.com${path}`, { headers: { Upgrade: "websocket" } })
  const socket = response.webSocket
  if (socket === null) return { response, socket: undefined, waitFor: undefined }
  const frames: Array<{ event: string; data: any }> = []
  socket.addEventListener("message", (event) => {
    frames.push(JSON.parse(event.data as string))
  })
  socket.accept()
  const waitFor = async (name: string) => {
    const deadline = Date.now() + 4000
    for (;;) {
      const found = frames.find((frame) => frame.event === name)
      if (found !== undefined) return found
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${name}`)
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  }
  return { response, socket, waitFor }
}

describe("transport across isolates", () => {
  it("onMessage and onJoin run in the objects' isolate from its own declaration; the caller's broadcasts reach the socket", async () => {
    const user = uniqueId("ada")
    const { socket, waitFor } = await connect(`/transport/ws?user=${user}`)
    expect(socket).toBeDefined()
    socket!.send("hello")
    expect((await waitFor!("echo")).data).toEqual({ message: "hello", ranIn: "objects", userId: user })
    socket!.send(JSON.stringify({ type: "subscribe", channel: "news" }))
    expect((await waitFor!("welcome")).data).toEqual({ userId: user, ranIn: "objects" })
    await waitFor!("subscribed")
    expect(await xiTransport.toChannel("news").broadcast({ event: "headline", data: { title: "cross-isolate" } })).toMatchObject({ delivered: 1 })
    expect((await waitFor!("headline")).data).toEqual({ title: "cross-isolate" })
    expect(await xiTransport.sendTo(user, { event: "direct", data: 1 })).toEqual({ delivered: 1 })
    await waitFor!("direct")
    socket!.close(1000, "done")
  })

  it("an instance the objects' script never declared is refused with InstanceNotDeclared", async () => {
    const { response, socket } = await connect("/transport/caller-only/ws")
    expect(socket).toBeUndefined()
    expect(response.status).toBe(500)
    expect(((await response.json()) as { error: { _tag: string } }).error._tag).toBe("InstanceNotDeclared")
  })
})
