/**
 * One live connection to a room or channel that keeps itself alive.
 *
 * - Credentials come from a grant or, better, a function that fetches one: it is called again on
 *   every (re)connect, so a stale token is never reused, and before the grant expires.
 * - Reconnects with exponential backoff and jitter, resuming from the last position
 *   (`?since=<epoch>:<seq>`); messages already seen are dropped by position, so a resume never
 *   shows a message twice. A `discontinuity` frame is passed on: the caller refetches state.
 * - Close codes decide: 4001 grant expired → new grant, reconnect at once; 4003 forbidden and
 *   4004 destroyed → stop for good; anything else → backoff.
 * - Requests with an `id` resolve on their `ack` and reject with the server's error frame;
 *   publishes carry an idempotency key (generated when absent) and are re-sent after a reconnect
 *   until acknowledged, so a flaky network never loses or doubles a message.
 * - Every inbound frame is decoded with the protocol's Schema; an undecodable frame is reported,
 *   never trusted.
 *
 * @since 0.1.0
 */
import { Either, Schema } from "effect"
import { CloseCode, formatPosition, PING_FRAME, ServerFrame, type AckFrame, type ClientFrameEncoded, type ErrorFrame, type Position, type ServerFrame as ServerFrameType } from "../schema/Protocol.js"
import { type LiveGrant } from "../schema/LiveGrant.js"
import { backoffDelay, type BackoffOptions } from "./Backoff.js"
import { ConnectFailed, webSocketConnector, type Connector, type SocketLike } from "./Socket.js"

export type GrantSource = LiveGrant | (() => Promise<LiveGrant>)
export type ConnectionState = "connecting" | "live" | "reconnecting" | "closed"

/** Something went wrong that the application may want to show. */
export type ConnectionError =
  | { readonly _tag: "ServerError"; readonly frame: ErrorFrame }
  | { readonly _tag: "ProtocolError"; readonly message: string }
  | { readonly _tag: "Closed"; readonly code: number; readonly reason: string; readonly final: boolean }
  | { readonly _tag: "ConnectFailed"; readonly status: number | undefined; readonly message: string }

export interface Timers {
  readonly setTimeout: (callback: () => void, ms: number) => unknown
  readonly clearTimeout: (handle: unknown) => void
  readonly now: () => number
}

export interface ConnectionOptions {
  readonly grant: GrantSource
  /** Origin for path-only grant URLs (`https://app.example.com`). Default: the page's origin. */
  readonly baseUrl?: string
  /** How to open sockets. Default: the global `WebSocket` (or `WebSocket` below). */
  readonly connect?: Connector
  readonly WebSocket?: new (url: string, protocols?: string | Array<string>) => WebSocket
  readonly backoff?: BackoffOptions
  /** Fetch a new grant this long before the current one expires. Default 30 s. */
  readonly refreshBeforeMs?: number
  /** Send heartbeats and reconnect when the server goes quiet. Default true. */
  readonly heartbeat?: boolean
  /** Start from this position (e.g. persisted across page loads). */
  readonly since?: Position
  readonly random?: () => number
  readonly timers?: Timers
}

type Request = { readonly frame: ClientFrameEncoded & { id: string }; readonly resolve: (ack: AckFrame) => void; readonly reject: (error: ErrorFrame | Error) => void }

const decodeFrame = Schema.decodeUnknownEither(Schema.parseJson(ServerFrame))

const defaultTimers: Timers = {
  setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof globalThis.setTimeout>),
  now: () => Date.now(),
}

const randomId = () =>
  ((globalThis as { crypto?: { randomUUID?: () => string } }).crypto?.randomUUID?.() ?? `${Date.now()}-${Math.random()}`).replaceAll("-", "").slice(0, 20)

export class LiveConnection {
  #state: ConnectionState = "connecting"
  #socket: SocketLike | undefined
  #position: Position | undefined
  #attempt = 0
  #reconnectTimer: unknown
  #refreshTimer: unknown
  #heartbeatTimer: unknown
  #lastHeard = 0
  #pending = new Map<string, Request>()
  readonly #frameListeners = new Set<(frame: ServerFrameType) => void>()
  readonly #stateListeners = new Set<(state: ConnectionState) => void>()
  readonly #errorListeners = new Set<(error: ConnectionError) => void>()
  readonly #connect: Connector
  readonly #timers: Timers
  readonly #random: () => number

  constructor(private readonly options: ConnectionOptions) {
    this.#connect = options.connect ?? webSocketConnector(options.WebSocket)
    this.#timers = options.timers ?? defaultTimers
    this.#random = options.random ?? Math.random
    this.#position = options.since
    void this.#open()
  }

  get state(): ConnectionState {
    return this.#state
  }

  /** The position of the last message seen: persist it to resume across page loads. */
  get position(): Position | undefined {
    return this.#position
  }

  onFrame(listener: (frame: ServerFrameType) => void): () => void {
    this.#frameListeners.add(listener)
    return () => this.#frameListeners.delete(listener)
  }

  onState(listener: (state: ConnectionState) => void): () => void {
    this.#stateListeners.add(listener)
    return () => this.#stateListeners.delete(listener)
  }

  onError(listener: (error: ConnectionError) => void): () => void {
    this.#errorListeners.add(listener)
    return () => this.#errorListeners.delete(listener)
  }

  /** Send a frame and wait for its `ack`. Publishes survive reconnects; other requests fail on disconnect. */
  request(frame: ClientFrameEncoded): Promise<AckFrame> {
    if (this.#state === "closed") return Promise.reject(new Error("connection closed"))
    const id = randomId()
    const withId = (
      frame.type === "publish" && frame.message.idempotencyKey === undefined
        ? { ...frame, id, message: { ...frame.message, idempotencyKey: `client_${id}` } }
        : { ...frame, id }
    ) as ClientFrameEncoded & { id: string }
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { frame: withId, resolve, reject })
      if (this.#state === "live") this.#send(withId)
    })
  }

  /** Send a frame without waiting (presence, heartbeats). Dropped when not live. */
  send(frame: ClientFrameEncoded): boolean {
    if (this.#state !== "live") return false
    this.#send(frame)
    return true
  }

  /** Close for good: no reconnect, pending requests rejected. */
  close(): void {
    this.#setState("closed")
    this.#clearTimers()
    this.#failPending(new Error("connection closed"), () => true)
    const socket = this.#socket
    this.#socket = undefined
    try {
      socket?.close(CloseCode.normal, "client closed")
    } catch {
      // already closed
    }
  }

  #send(frame: unknown) {
    try {
      this.#socket?.send(typeof frame === "string" ? frame : JSON.stringify(frame))
    } catch {
      // the close handler reconnects
    }
  }

  #setState(state: ConnectionState) {
    if (this.#state === state) return
    this.#state = state
    for (const listener of this.#stateListeners) listener(state)
  }

  #emitError(error: ConnectionError) {
    for (const listener of this.#errorListeners) listener(error)
  }

  #clearTimers() {
    for (const timer of [this.#reconnectTimer, this.#refreshTimer, this.#heartbeatTimer]) if (timer !== undefined) this.#timers.clearTimeout(timer)
    this.#reconnectTimer = this.#refreshTimer = this.#heartbeatTimer = undefined
  }

  #failPending(error: Error, which: (request: Request) => boolean) {
    for (const [id, request] of this.#pending) {
      if (!which(request)) continue
      this.#pending.delete(id)
      request.reject(error)
    }
  }

  async #grant(): Promise<LiveGrant> {
    const source = this.options.grant
    return typeof source === "function" ? source() : source
  }

  #url(grant: LiveGrant): string {
    const origin = this.options.baseUrl ?? (globalThis as { location?: { origin: string } }).location?.origin ?? ""
    const url = /^[a-z]+:\/\//i.test(grant.url) ? grant.url : `${origin}${grant.url}`
    if (this.#position === undefined) return url
    return `${url}${url.includes("?") ? "&" : "?"}since=${encodeURIComponent(formatPosition(this.#position))}`
  }

  async #open(): Promise<void> {
    if (this.#state === "closed") return
    let socket: SocketLike
    let grant: LiveGrant
    try {
      grant = await this.#grant()
      socket = await this.#connect(this.#url(grant), grant.protocols)
    } catch (cause) {
      const status = cause instanceof ConnectFailed ? cause.status : undefined
      this.#emitError({ _tag: "ConnectFailed", status, message: cause instanceof Error ? cause.message : String(cause) })
      // 403: the grant will never allow this; anything else may pass on a later try.
      if (status === 403) return this.#stop()
      return this.#scheduleReconnect()
    }
    // close() may have run while we were connecting.
    if (this.#isClosed()) {
      socket.close(CloseCode.normal, "client closed")
      return
    }
    this.#socket = socket
    this.#lastHeard = this.#timers.now()
    socket.addEventListener("message", (event) => {
      if (this.#socket === socket) this.#receive(event.data)
    })
    socket.addEventListener("close", (event) => {
      if (this.#socket === socket) this.#closed(event.code, event.reason)
    })
    this.#scheduleRefresh(grant)
  }

  #receive(data: unknown) {
    this.#lastHeard = this.#timers.now()
    const decoded = decodeFrame(typeof data === "string" ? data : "")
    if (Either.isLeft(decoded)) {
      this.#emitError({ _tag: "ProtocolError", message: `undecodable frame: ${String(data).slice(0, 100)}` })
      return
    }
    const frame = decoded.right
    switch (frame.type) {
      case "ready":
        this.#position = { epoch: frame.epoch, seq: frame.seq }
        this.#attempt = 0
        this.#setState("live")
        this.#startHeartbeat(frame.heartbeatMs)
        // Re-send what was never acknowledged: publishes are idempotent by their key.
        for (const request of this.#pending.values()) this.#send(request.frame)
        break
      case "message": {
        const { epoch, seq } = frame.message
        const last = this.#position
        if (last !== undefined && last.epoch === epoch && seq <= last.seq) return // seen before a reconnect
        this.#position = { epoch, seq }
        break
      }
      case "discontinuity":
        this.#position = { epoch: frame.epoch, seq: frame.seq }
        break
      case "ack": {
        const request = this.#pending.get(frame.id)
        this.#pending.delete(frame.id)
        request?.resolve(frame)
        break
      }
      case "error": {
        const request = frame.id === undefined ? undefined : this.#pending.get(frame.id)
        if (request !== undefined) {
          this.#pending.delete(frame.id!)
          request.reject(Object.assign(new Error(frame.message), frame))
        } else {
          this.#emitError({ _tag: "ServerError", frame })
        }
        break
      }
      case "close":
        this.#closed(frame.code, frame.reason)
        return
    }
    for (const listener of this.#frameListeners) listener(frame)
  }

  #closed(code: number, reason: string) {
    this.#socket = undefined
    this.#clearTimers()
    if (this.#state === "closed") return
    const final = code === CloseCode.forbidden || code === CloseCode.destroyed
    this.#emitError({ _tag: "Closed", code, reason, final })
    // Only publishes are safe to repeat; other requests of the lost connection fail now.
    this.#failPending(new Error(`connection lost (${code})`), (request) => request.frame.type !== "publish")
    if (final) return this.#stop()
    if (code === CloseCode.grantExpired) {
      if (typeof this.options.grant !== "function") return this.#stop()
      this.#attempt = 0
      this.#setState("reconnecting")
      void this.#open()
      return
    }
    this.#scheduleReconnect()
  }

  #isClosed(): boolean {
    return this.#state === "closed"
  }

  #stop() {
    this.close()
  }

  #scheduleReconnect() {
    if (this.#state === "closed") return
    this.#setState("reconnecting")
    const delay = backoffDelay(this.#attempt++, this.#random(), this.options.backoff)
    this.#reconnectTimer = this.#timers.setTimeout(() => {
      this.#reconnectTimer = undefined
      void this.#open()
    }, delay)
  }

  /** Reconnect with a fresh grant shortly before this one expires (resume makes it seamless). */
  #scheduleRefresh(grant: LiveGrant) {
    if (typeof this.options.grant !== "function") return
    const refreshIn = grant.expiresAt - (this.options.refreshBeforeMs ?? 30_000) - this.#timers.now()
    this.#refreshTimer = this.#timers.setTimeout(
      () => {
        this.#refreshTimer = undefined
        const socket = this.#socket
        if (socket === undefined || this.#state === "closed") return
        this.#socket = undefined
        this.#clearTimers()
        try {
          socket.close(CloseCode.normal, "refreshing grant")
        } catch {
          // already closed
        }
        this.#setState("reconnecting")
        void this.#open()
      },
      Math.max(0, refreshIn),
    )
  }

  /** Ping every interval; a server silent for two intervals is gone: reconnect. */
  #startHeartbeat(intervalMs: number) {
    if (this.options.heartbeat === false || intervalMs <= 0) return
    const beat = () => {
      this.#heartbeatTimer = this.#timers.setTimeout(() => {
        const socket = this.#socket
        if (socket === undefined) return
        if (this.#timers.now() - this.#lastHeard > 2 * intervalMs) {
          try {
            socket.close(4000, "heartbeat timeout")
          } catch {
            // already closed
          }
          this.#closed(4000, "heartbeat timeout")
          return
        }
        this.#send(PING_FRAME)
        beat()
      }, intervalMs)
    }
    beat()
  }
}
