/**
 * What a `<RealtimeProvider>` holds: where grants and history come from, and one store per room,
 * channel, document and table subscription, shared by every component that uses it.
 *
 * Stores are created on first use (no socket yet: rendering, also on a server, opens nothing) and
 * connect when the first component retains them from an effect. The last release closes them
 * after `lingerMs`, so React Strict Mode's mount → unmount → mount reuses the one socket instead of
 * opening a second.
 *
 * @since 0.1.0
 */
import type { BackoffOptions, Connector, LiveGrant, StoredMessageEncoded, TableGrant, Timers } from "../client/index.js"
import type { CrdtGrant } from "../schema/LiveGrant.js"

export type GrantKind = "room" | "channel" | "crdtRoom" | "table"
export type GrantOf<K extends GrantKind> = K extends "crdtRoom" ? CrdtGrant : K extends "table" ? TableGrant : LiveGrant

export interface GrantRequestOptions {
  /** Table subscriptions: the filters asked for. */
  readonly filters?: Readonly<Record<string, unknown>>
}

/** Fetch a grant from your server for one resource (your route checks who may have it). */
export type GrantFetcher = <K extends GrantKind>(kind: K, id: string, options: GrantRequestOptions) => Promise<GrantOf<K>>

export interface HistoryQueryOptions {
  readonly limit: number
  readonly cursor: string | null
  readonly direction: "backward"
}

/** A page of history as your route returns it (`room(id).history(...)`'s result as JSON). */
export interface HistoryPageEncoded {
  readonly messages: ReadonlyArray<StoredMessageEncoded>
  readonly nextCursor: string | null
  readonly epoch: string
}

/** Load a page of a room's or channel's history from your server (e.g. a route over `room(id).history(...)`). */
export type HistoryLoader = (kind: "room" | "channel", id: string, query: HistoryQueryOptions) => Promise<HistoryPageEncoded>

export interface RealtimeClientOptions {
  readonly grant: GrantFetcher
  readonly history?: HistoryLoader
  /** Origin for path-only grant URLs. Default: the page's origin. */
  readonly baseUrl?: string
  /** How sockets are opened (tests, other runtimes). Default: the global `WebSocket`. */
  readonly connect?: Connector
  readonly WebSocket?: new (url: string, protocols?: string | Array<string>) => WebSocket
  readonly backoff?: BackoffOptions
  /** At most one presence frame per this many milliseconds. Default 50. */
  readonly presenceThrottleMs?: number
  /** How long a store stays connected after its last user went away. Default 0 (the next task). */
  readonly lingerMs?: number
  readonly timers?: Timers
}

/** A store the client shares: started by the first retain, stopped after the last release. */
export interface SharedStore {
  readonly start: () => void
  readonly stop: () => void
}

const defaultTimers: Timers = {
  setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof globalThis.setTimeout>),
  now: () => Date.now(),
}

interface Entry {
  readonly store: SharedStore
  users: number
  started: boolean
  stopTimer: unknown
}

export class RealtimeClient {
  readonly timers: Timers
  readonly #entries = new Map<string, Entry>()

  constructor(readonly options: RealtimeClientOptions) {
    this.timers = options.timers ?? defaultTimers
  }

  /** The shared store under `key`, made by `make` the first time (nothing connects until it is retained). */
  store<S extends SharedStore>(key: string, make: () => S): S {
    let entry = this.#entries.get(key)
    if (entry === undefined) {
      entry = { store: make(), users: 0, started: false, stopTimer: undefined }
      this.#entries.set(key, entry)
    }
    return entry.store as S
  }

  /** Use a store: the first user starts it. Returns the release; call it once. */
  retain(key: string, store: SharedStore): () => void {
    let entry = this.#entries.get(key)
    if (entry === undefined || entry.store !== store) {
      // Released and stopped meanwhile: a retained store is registered again.
      entry = { store, users: 0, started: false, stopTimer: undefined }
      this.#entries.set(key, entry)
    }
    const current = entry
    if (current.stopTimer !== undefined) {
      this.timers.clearTimeout(current.stopTimer)
      current.stopTimer = undefined
    }
    current.users++
    if (!current.started) {
      current.started = true
      current.store.start()
    }
    let released = false
    return () => {
      if (released) return
      released = true
      current.users--
      if (current.users > 0) return
      current.stopTimer = this.timers.setTimeout(() => {
        current.stopTimer = undefined
        if (current.users > 0) return
        current.started = false
        if (this.#entries.get(key) === current) this.#entries.delete(key)
        current.store.stop()
      }, this.options.lingerMs ?? 0)
    }
  }

  /** Keys of the stores connected now (for tests and debugging). */
  active(): ReadonlyArray<string> {
    return [...this.#entries].filter(([, entry]) => entry.started).map(([key]) => key)
  }

  /** Stop every store now (the provider unmounted for good). */
  dispose(): void {
    for (const entry of this.#entries.values()) {
      if (entry.stopTimer !== undefined) this.timers.clearTimeout(entry.stopTimer)
      if (entry.started) entry.store.stop()
    }
    this.#entries.clear()
  }
}

/** A client from its options (what `<RealtimeProvider>` makes for you). */
export const createRealtimeClient = (options: RealtimeClientOptions): RealtimeClient => new RealtimeClient(options)
