/**
 * `useYDoc`'s store against a real CRDT room in workerd: a stock y-websocket provider (over a
 * WebSocket class that reaches the test Worker) syncs two documents, and after the server closes
 * an expired grant's socket (4001) the store reconnects with a fresh grant. Also: a refused
 * publish rejects with the library's tagged error.
 */
import { SELF } from "cloudflare:test"
import { describe, expect, it } from "vitest"
import { ConnectFailed, type Connector, type SocketLike } from "../src/client/index.js"
import { Forbidden } from "../src/RealtimeError.js"
import { createRealtimeClient, roomStoreOf, yDocStoreOf, type GrantFetcher } from "../src/react/index.js"
import { runTest, service, uniqueId } from "./helpers.js"
import { eventually } from "./live-helpers.js"

const live = () => service("live")

/** The part of the browser WebSocket y-websocket uses, over `SELF.fetch` upgrades. */
class SelfWebSocket {
  static readonly CONNECTING = 0
  static readonly OPEN = 1
  static readonly CLOSING = 2
  static readonly CLOSED = 3
  static opened: Array<WebSocket> = []
  static closeCodes: Array<number> = []
  binaryType = "arraybuffer"
  readyState = 0
  onopen: ((event: unknown) => void) | null = null
  onmessage: ((event: { data: unknown }) => void) | null = null
  onclose: ((event: { code: number; reason: string }) => void) | null = null
  onerror: ((event: unknown) => void) | null = null
  #socket: WebSocket | undefined

  constructor(url: string, protocols?: string | Array<string>) {
    void SELF.fetch(url.replace(/^ws/, "http"), { headers: { Upgrade: "websocket", "Sec-WebSocket-Protocol": [protocols ?? []].flat().join(", ") } }).then((response) => {
      const socket = response.webSocket
      if (socket === null) {
        this.readyState = 3
        this.onclose?.({ code: 1006, reason: `refused with ${response.status}` })
        return
      }
      // Binary frames as ArrayBuffer (y-websocket reads them with `new Uint8Array(data)`), as a browser with this binaryType gives them.
      ;(socket as unknown as { binaryType: string }).binaryType = "arraybuffer"
      socket.accept()
      this.#socket = socket
      SelfWebSocket.opened.push(socket)
      socket.addEventListener("message", (event) => this.onmessage?.({ data: event.data }))
      socket.addEventListener("close", (event) => {
        SelfWebSocket.closeCodes.push(event.code)
        this.readyState = 3
        this.onclose?.({ code: event.code, reason: event.reason })
      })
      if (this.readyState === 0) {
        this.readyState = 1
        this.onopen?.({})
      }
    })
  }

  send(data: ArrayBuffer | Uint8Array | string) {
    this.#socket?.send(data)
  }

  close(code?: number, reason?: string) {
    if (this.readyState >= 2) return
    this.readyState = 2
    try {
      this.#socket?.close(code ?? 1000, reason)
    } catch {
      // already closed
    }
  }
}

const crdtGrants = (actorId: string, ttlSeconds: number, counter: { n: number }): GrantFetcher =>
  ((kind: string, id: string) => {
    counter.n++
    if (kind !== "crdtRoom") throw new Error(`unexpected grant kind ${kind}`)
    return runTest(live().crdtRoom(id).authorize({ actor: { type: "user", id: actorId }, ttlSeconds }))
  }) as GrantFetcher

describe("react stores: documents", () => {
  it("two documents sync through stock y-websocket providers, and a 4001 close brings a fresh grant", async () => {
    const docId = uniqueId("react-doc")
    const adaGrants = { n: 0 }
    const bobGrants = { n: 0 }
    const options = { baseUrl: "http://example.com", WebSocket: SelfWebSocket as unknown as typeof WebSocket }
    const ada = createRealtimeClient({ ...options, grant: crdtGrants("ada", 60, adaGrants) })
    // Bob's grants live one second: the room closes his socket with 4001 when one expires.
    const bob = createRealtimeClient({ ...options, grant: crdtGrants("bob", 1, bobGrants) })
    const adaDoc = yDocStoreOf(ada, docId)
    const bobDoc = yDocStoreOf(bob, docId)
    const releases = [ada.retain(adaDoc.key, adaDoc.store), bob.retain(bobDoc.key, bobDoc.store)]
    await eventually(() => (adaDoc.store.state.get().synced && bobDoc.store.state.get().synced ? true : undefined), 4000, "both synced")
    expect(adaDoc.store.state.get().status).toBe("live")

    adaDoc.store.doc.getText("t").insert(0, "Hello")
    await eventually(() => (bobDoc.store.doc.getText("t").toString() === "Hello" ? true : undefined), 4000, "bob sees Ada's edit")

    await eventually(() => (bobGrants.n >= 2 && bobDoc.store.state.get().status === "live" && bobDoc.store.state.get().synced ? true : undefined), 6000, "bob back with a fresh grant")
    expect(SelfWebSocket.closeCodes).toContain(4001)
    bobDoc.store.doc.getText("t").insert(5, ", world")
    await eventually(() => (adaDoc.store.doc.getText("t").toString() === "Hello, world" ? true : undefined), 4000, "ada sees Bob's edit after his reconnect")
    expect(adaGrants.n).toBe(1)

    for (const release of releases) release()
    await eventually(() => (adaDoc.store.state.get().status === "closed" && bobDoc.store.state.get().status === "closed" ? true : undefined), 2000, "closed")
    expect(adaDoc.store.state.get().provider).toBeUndefined()
  })

  it("a publish the grant does not allow rejects with the library's Forbidden", async () => {
    const channelId = uniqueId("react-readonly")
    const connector: Connector = async (url, protocols) => {
      const response = await SELF.fetch(url.replace(/^ws/, "http"), { headers: { Upgrade: "websocket", "Sec-WebSocket-Protocol": protocols.join(", ") } })
      const socket = response.webSocket
      if (socket === null) throw new ConnectFailed(response.status, await response.text())
      socket.accept()
      return socket as unknown as SocketLike
    }
    const client = createRealtimeClient({
      grant: ((_kind: string, id: string) => runTest(live().channel(id).authorize({ actor: { type: "user", id: "reader" }, permissions: ["read"] }))) as GrantFetcher,
      connect: connector,
      baseUrl: "http://example.com",
    })
    const { key, store } = roomStoreOf(client, "channel", channelId)
    const release = client.retain(key, store)
    const error = await store.publish({ type: "nope" }).then(
      () => undefined,
      (cause: unknown) => cause,
    )
    expect(error).toBeInstanceOf(Forbidden)
    expect((error as Forbidden)._tag).toBe("Forbidden")
    release()
  })
})
