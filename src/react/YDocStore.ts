/**
 * A Yjs document kept in sync by a stock y-websocket `WebsocketProvider`, from a CRDT room grant.
 *
 * The document exists from the first render (so components can read it at once); the provider,
 * its awareness and the socket are made when the store starts (in an effect, never on a server).
 * Every reconnect after the server closed the socket uses a fresh grant: the provider is held
 * while the grant is fetched and then connects with its subprotocols. A forbidden (4003) or
 * destroyed (4004) close stops it for good.
 *
 * @since 0.1.0
 */
import { WebsocketProvider } from "y-websocket"
import * as Y from "yjs"
import { Awareness } from "y-protocols/awareness"
import { errorFromClose } from "../client/index.js"
import { CloseCode, type RealtimeError } from "../RealtimeError.js"
import type { CrdtGrant } from "../schema/LiveGrant.js"
import { createStore } from "./ExternalStore.js"
import type { RealtimeClient, SharedStore } from "./RealtimeClient.js"
import { toError } from "./RoomStore.js"

export type YDocStatus = "connecting" | "live" | "reconnecting" | "closed"

export interface YDocState {
  readonly status: YDocStatus
  /** The document has received the server's state at least once on the current socket. */
  readonly synced: boolean
  readonly error: RealtimeError | undefined
  readonly provider: WebsocketProvider | undefined
  readonly awareness: Awareness | undefined
}

const isFinal = (code: number) => code === CloseCode.forbidden || code === CloseCode.destroyed

export class YDocStore implements SharedStore {
  readonly doc = new Y.Doc()
  readonly state = createStore<YDocState>({ status: "connecting", synced: false, error: undefined, provider: undefined, awareness: undefined })
  #provider: WebsocketProvider | undefined
  #awareness: Awareness | undefined
  #running = false
  #everConnected = false

  constructor(
    private readonly client: RealtimeClient,
    readonly docId: string,
  ) {}

  #set(patch: Partial<YDocState>) {
    this.state.update((state) => ({ ...state, ...patch }))
  }

  #serverUrl(grant: CrdtGrant): string {
    const base = this.client.options.baseUrl ?? (globalThis as { location?: { href: string } }).location?.href ?? "ws://localhost/"
    return new URL(grant.yjs.serverUrl, base.replace(/^http/, "ws")).toString().replace(/^http/, "ws")
  }

  start(): void {
    this.#running = true
    this.#everConnected = false
    this.#set({ status: "connecting", error: undefined })
    void this.#connect()
  }

  async #connect(): Promise<void> {
    let grant: CrdtGrant
    try {
      grant = await this.client.options.grant("crdtRoom", this.docId, {})
    } catch (cause) {
      if (!this.#running) return
      this.#set({ status: "reconnecting", error: toError(cause) })
      this.client.timers.setTimeout(() => {
        if (this.#running && this.#provider === undefined) void this.#connect()
      }, 1_000)
      return
    }
    if (!this.#running) return
    const awareness = new Awareness(this.doc)
    const provider = new WebsocketProvider(this.#serverUrl(grant), grant.yjs.roomName, this.doc, {
      protocols: [...grant.yjs.protocols],
      awareness,
      ...(this.client.options.WebSocket === undefined ? {} : { WebSocketPolyfill: this.client.options.WebSocket as never }),
      shouldReconnect: (event) => !isFinal(event.code),
    })
    this.#provider = provider
    this.#awareness = awareness
    this.#set({ provider, awareness })
    provider.on("status", ({ status }) => {
      if (!this.#running) return
      if (status === "connected") this.#everConnected = true
      this.#set({ status: status === "connected" ? "live" : this.#everConnected ? "reconnecting" : "connecting", ...(status === "connected" ? { error: undefined } : {}) })
    })
    provider.on("sync", (synced) => this.#set({ synced }))
    provider.on("connection-close", (event) => {
      // `null`: closed by us (disconnect, destroy); the provider's own reconnect logic applies.
      if (event === null || !this.#running) return
      const error = errorFromClose(event.code, event.reason, { kind: "crdtRoom", id: this.docId })
      if (isFinal(event.code)) {
        this.#set({ status: "closed", error, synced: false })
        return
      }
      // Hold the provider's reconnect until a fresh grant is here.
      provider.shouldConnect = false
      this.#set({ status: "reconnecting", synced: false, ...(error === undefined ? {} : { error }) })
      this.client.options.grant("crdtRoom", this.docId, {}).then(
        (fresh) => {
          if (!this.#running || this.#provider !== provider) return
          provider.protocols = [...fresh.yjs.protocols]
          provider.connect()
        },
        (cause) => {
          if (!this.#running || this.#provider !== provider) return
          this.#set({ error: toError(cause) })
          // Try again with the grant we have; the next close fetches another.
          this.client.timers.setTimeout(() => this.#running && this.#provider === provider && provider.connect(), 1_000)
        },
      )
    })
  }

  stop(): void {
    this.#running = false
    this.#provider?.destroy()
    this.#awareness?.destroy()
    this.#provider = this.#awareness = undefined
    this.#set({ status: "closed", synced: false, provider: undefined, awareness: undefined })
  }
}

/** The shared store of a document (one per document id per client). */
export const yDocStoreOf = (client: RealtimeClient, docId: string): { key: string; store: YDocStore } => {
  const key = `crdtRoom:${docId}`
  return { key, store: client.store(key, () => new YDocStore(client, docId)) }
}
