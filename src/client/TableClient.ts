/**
 * `subscribeTable`: a database change stream that keeps itself alive.
 *
 * - Connects with the grant's URL and subprotocols and calls the change handler only after the
 *   server's `ready` (or, with a snapshot handler, after the rows of the snapshot).
 * - Remembers the `seq` of the last change and resumes from it after a drop (`?since=<seq>`):
 *   the hub replays what it still buffers, in order; a change at or below the last `seq` is never
 *   delivered again, so overlapping replays are harmless.
 * - Fetches a fresh grant for every connect, shortly before the current one expires, and when the
 *   server closes with 4001 (grant expired).
 * - On a gap (the hub's `resync`, or a `discontinuity`/`database.gap` frame for parked changes)
 *   it resynchronises: with `onSnapshot` it reconnects asking for the matching rows first and then
 *   exactly the changes after them; without, it tells `onGap` and continues from the stream's
 *   current position.
 *
 * Grants of both shapes are read: `expiresAt` as epoch milliseconds or an ISO string, `url` path-only
 * or absolute (`wss://`). Change frames are read with `key` as a value or an object of key columns and
 * `shard` as a number or a name.
 *
 * @example
 * ```ts
 * import { subscribeTable } from "durable-realtime/client"
 *
 * const rows = new Map<string, Post>()
 * const stream = subscribeTable<Post>({
 *   grant: () => fetch("/realtime/posts/token", { method: "POST" }).then((r) => r.json()),
 *   onSnapshot: ({ rows: page }) => { rows.clear(); for (const row of page) rows.set(row.id, row) },
 *   onChange: (change) => change.new === null ? rows.delete(change.old!.id) : rows.set(change.new.id, change.new),
 * })
 * // later: stream.close()
 * ```
 *
 * @since 0.1.0
 */
import { CloseCode, InvalidInput, type RealtimeError } from "../RealtimeError.js"
import { backoffDelay, type BackoffOptions } from "./Backoff.js"
import type { Timers } from "./Connection.js"
import { errorFromClose, errorFromStatus, errorFromTag } from "./Errors.js"
import { ConnectFailed, webSocketConnector, type Connector, type SocketLike } from "./Socket.js"

/** What `database.realtime.authorize(...)` returns. */
export interface TableGrant {
  readonly url: string
  readonly protocols: ReadonlyArray<string>
  /** Epoch milliseconds or an ISO 8601 string. */
  readonly expiresAt?: number | string | null
}

export type TableGrantSource = TableGrant | (() => Promise<TableGrant>)

export type TableRow = Record<string, unknown>

/** One committed change, as the server sends it. */
export interface TableChange<Row = TableRow> {
  readonly type: "database.change"
  readonly seq: number
  readonly namespace: string
  readonly database: string
  readonly table: string
  readonly event: "insert" | "update" | "delete"
  /** The row's key: the key column's value, or an object of key columns. */
  readonly key: unknown
  readonly old: Row | null
  readonly new: Row | null
  readonly shard: number | string
  readonly requestId: string
  readonly createdAt: string
  /** An update moved the row into (`entered`) or out of (`left`) this subscription's filters. */
  readonly scope?: "entered" | "left"
}

export interface TableSnapshot<Row = TableRow> {
  /** The matching rows when the subscription (re)started: replace what you hold with them. */
  readonly rows: ReadonlyArray<Row>
  /** More rows than `snapshotLimit` match: page them with your own query. */
  readonly nextCursor: string | null
  readonly reason: "initial" | "resync"
}

export type TableStatus = "connecting" | "live" | "reconnecting" | "closed"

export interface TableGap {
  readonly reason: string
  /** The stream continues after this seq. */
  readonly seq: number
}

export interface SubscribeTableOptions<Row = TableRow> {
  readonly grant: TableGrantSource
  /** Each change once, in order. */
  readonly onChange: (change: TableChange<Row>) => void
  /** When given, the subscription starts (and resynchronises) with the matching rows, then the changes after them. */
  readonly onSnapshot?: (snapshot: TableSnapshot<Row>) => void
  readonly onStatus?: (status: TableStatus, error?: RealtimeError) => void
  /** Changes were missed and cannot be replayed (without `onSnapshot`, reload your rows). */
  readonly onGap?: (gap: TableGap) => void
  /** Rows per snapshot. Default 1,000 (the server's maximum). */
  readonly snapshotLimit?: number
  /** Resume after this seq (persisted from an earlier page load). */
  readonly since?: number
  /** Origin for path-only grant URLs. Default: the page's origin. */
  readonly baseUrl?: string
  readonly connect?: Connector
  readonly WebSocket?: new (url: string, protocols?: string | Array<string>) => WebSocket
  readonly backoff?: BackoffOptions
  /** Fetch a new grant this long before the current one expires. Default 30 s. */
  readonly refreshBeforeMs?: number
  /** Ping this often and reconnect when the server stays silent for two intervals. 0 turns it off. Default 30 s. */
  readonly heartbeatMs?: number
  readonly random?: () => number
  readonly timers?: Timers
}

export interface TableSubscription {
  readonly status: () => TableStatus
  /** The seq of the last change delivered (persist it to resume across page loads). */
  readonly seq: () => number | undefined
  /** Resynchronise now (a new snapshot with `onSnapshot`, else from the stream's position). */
  readonly resync: () => void
  readonly close: () => void
}

const defaultTimers: Timers = {
  setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof globalThis.setTimeout>),
  now: () => Date.now(),
}

const PING = '{"type":"ping"}'

/** Epoch milliseconds of a grant's expiry, from either shape. */
export const grantExpiryMs = (grant: TableGrant): number | undefined => {
  const at = grant.expiresAt
  if (typeof at === "number") return at
  if (typeof at === "string") {
    const parsed = Date.parse(at)
    return Number.isNaN(parsed) ? undefined : parsed
  }
  return undefined
}

type Frame = { readonly type?: unknown; readonly [key: string]: unknown }

const isChange = (frame: Frame): frame is Frame & TableChange<TableRow> =>
  frame.type === "database.change" && typeof frame.seq === "number" && (frame.event === "insert" || frame.event === "update" || frame.event === "delete")

/** Subscribe to a table's change stream. */
export const subscribeTable = <Row = TableRow>(options: SubscribeTableOptions<Row>): TableSubscription => {
  const timers = options.timers ?? defaultTimers
  const random = options.random ?? Math.random
  const connect = options.connect ?? webSocketConnector(options.WebSocket)
  const heartbeatMs = options.heartbeatMs ?? 30_000
  let status: TableStatus = "connecting"
  let lastSeq: number | undefined = options.since
  // A snapshot is asked for on the first connect (when wanted) and after every gap.
  let wantSnapshot: "initial" | "resync" | undefined = options.since === undefined && options.onSnapshot !== undefined ? "initial" : undefined
  let socket: SocketLike | undefined
  let attempt = 0
  let reconnectTimer: unknown
  let refreshTimer: unknown
  let heartbeatTimer: unknown
  let lastHeard = 0
  let closed = false

  const setStatus = (next: TableStatus, error?: RealtimeError) => {
    if (next === status && error === undefined) return
    status = next
    options.onStatus?.(next, error)
  }

  const clearTimers = () => {
    for (const timer of [reconnectTimer, refreshTimer, heartbeatTimer]) if (timer !== undefined) timers.clearTimeout(timer)
    reconnectTimer = refreshTimer = heartbeatTimer = undefined
  }

  const drop = (current: SocketLike | undefined, code: number, reason: string) => {
    if (socket === current) socket = undefined
    try {
      current?.close(code, reason)
    } catch {
      // already closed
    }
  }

  const urlFor = (grant: TableGrant): string => {
    const base = options.baseUrl ?? (globalThis as { location?: { href: string } }).location?.href
    const url = base === undefined ? new URL(grant.url) : new URL(grant.url, base)
    url.searchParams.delete("since")
    url.searchParams.delete("snapshot")
    if (wantSnapshot !== undefined) {
      url.searchParams.set("snapshot", "true")
      url.searchParams.set("limit", String(options.snapshotLimit ?? 1_000))
    } else if (lastSeq !== undefined) url.searchParams.set("since", String(lastSeq))
    return url.toString()
  }

  const scheduleReconnect = (error?: RealtimeError) => {
    if (closed) return
    setStatus("reconnecting", error)
    const delay = backoffDelay(attempt++, random(), options.backoff)
    reconnectTimer = timers.setTimeout(() => {
      reconnectTimer = undefined
      void open()
    }, delay)
  }

  const stop = (error?: RealtimeError) => {
    closed = true
    clearTimers()
    drop(socket, CloseCode.normal, "client closed")
    setStatus("closed", error)
  }

  const reconnectNow = (reason: string) => {
    clearTimers()
    drop(socket, CloseCode.normal, reason)
    if (closed) return
    setStatus("reconnecting")
    void open()
  }

  const gap = (reason: string, seq: number) => {
    options.onGap?.({ reason, seq })
    if (options.onSnapshot !== undefined) {
      wantSnapshot = "resync"
      reconnectNow("resynchronising")
    } else lastSeq = seq
  }

  const receive = (data: unknown) => {
    lastHeard = timers.now()
    let frame: Frame
    try {
      frame = JSON.parse(typeof data === "string" ? data : "") as Frame
    } catch {
      return
    }
    if (frame === null || typeof frame !== "object") return
    if (isChange(frame)) {
      if (lastSeq !== undefined && frame.seq <= lastSeq) return // replayed after a resume: seen already
      lastSeq = frame.seq
      options.onChange(frame as unknown as TableChange<Row>)
      return
    }
    switch (frame.type) {
      case "database.snapshot": {
        const reason = wantSnapshot ?? "resync"
        options.onSnapshot?.({ rows: (Array.isArray(frame.rows) ? frame.rows : []) as ReadonlyArray<Row>, nextCursor: typeof frame.nextCursor === "string" ? frame.nextCursor : null, reason })
        return
      }
      case "ready": {
        // After a snapshot (or a first connect) the stream starts at the server's position.
        if (typeof frame.seq === "number" && (wantSnapshot !== undefined || lastSeq === undefined)) lastSeq = frame.seq
        wantSnapshot = undefined
        attempt = 0
        setStatus("live")
        return
      }
      case "resync":
      case "discontinuity":
      case "database.gap":
        gap(typeof frame.reason === "string" ? frame.reason : String(frame.type), typeof frame.seq === "number" ? frame.seq : (lastSeq ?? 0))
        return
      case "error":
        options.onStatus?.(status, errorFromTag(typeof frame.tag === "string" ? frame.tag : undefined, typeof frame.message === "string" ? frame.message : "error"))
        return
    }
  }

  const startHeartbeat = (current: SocketLike) => {
    if (heartbeatMs <= 0) return
    heartbeatTimer = timers.setTimeout(() => {
      heartbeatTimer = undefined
      if (socket !== current) return
      if (timers.now() - lastHeard > 2 * heartbeatMs) return reconnectNow("heartbeat timeout")
      try {
        current.send(PING)
      } catch {
        // the close handler reconnects
      }
      startHeartbeat(current)
    }, heartbeatMs)
  }

  const scheduleRefresh = (grant: TableGrant) => {
    const expiresAt = grantExpiryMs(grant)
    if (typeof options.grant !== "function" || expiresAt === undefined) return
    const refreshIn = expiresAt - (options.refreshBeforeMs ?? 30_000) - timers.now()
    refreshTimer = timers.setTimeout(() => {
      refreshTimer = undefined
      reconnectNow("refreshing grant")
    }, Math.max(0, refreshIn))
  }

  const onClose = (current: SocketLike, code: number, reason: string) => {
    if (socket !== current || closed) return
    socket = undefined
    clearTimers()
    const error = errorFromClose(code, reason)
    if (code === CloseCode.forbidden || code === CloseCode.destroyed) return stop(error)
    if (code === CloseCode.grantExpired && typeof options.grant === "function") {
      attempt = 0
      setStatus("reconnecting", error)
      void open()
      return
    }
    scheduleReconnect(error)
  }

  const open = async (): Promise<void> => {
    if (closed) return
    let current: SocketLike
    let grant: TableGrant
    let url: string
    try {
      grant = typeof options.grant === "function" ? await options.grant() : options.grant
      if (closed) return
    } catch (cause) {
      // The app's grant route refused or failed: its tagged error body when it sent one.
      const tagged = cause as { _tag?: unknown; message?: unknown }
      return scheduleReconnect(typeof tagged?._tag === "string" ? (cause as RealtimeError) : errorFromStatus(undefined, cause instanceof Error ? cause.message : String(cause)))
    }
    try {
      url = urlFor(grant)
    } catch {
      // A path-only URL with no page to resolve it against (Node): a setup mistake, not a network one.
      return stop(new InvalidInput({ field: "baseUrl", message: `baseUrl: the grant's URL ${grant.url.slice(0, 100)} is path-only; pass baseUrl (or have the server return an absolute URL)` }))
    }
    try {
      current = await connect(url, grant.protocols)
    } catch (cause) {
      const status = cause instanceof ConnectFailed ? cause.status : undefined
      const error = errorFromStatus(status, cause instanceof Error ? cause.message : String(cause))
      // 400/403/404: this subscription will never be accepted as asked.
      if (status === 400 || status === 403 || status === 404) return stop(error)
      return scheduleReconnect(error)
    }
    if (closed) return drop(current, CloseCode.normal, "client closed")
    socket = current
    lastHeard = timers.now()
    current.addEventListener("message", (event) => {
      if (socket === current) receive(event.data)
    })
    current.addEventListener("close", (event) => onClose(current, event.code, event.reason))
    scheduleRefresh(grant)
    startHeartbeat(current)
  }

  void open()
  return {
    status: () => status,
    seq: () => lastSeq,
    resync: () => gap("requested", lastSeq ?? 0),
    close: () => stop(),
  }
}
