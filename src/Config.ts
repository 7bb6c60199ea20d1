/**
 * Instance configuration and its declarations.
 *
 * An instance is declared once, at module scope: `declareRealtime({ name, ... })` (also reached
 * as `Realtime.declare`, and called for you by `realtime({...})` and `Realtime.layer({...})`).
 * A Durable Object runs in its own isolate, often on another machine than the Worker that called
 * it, so it can only know the options its own isolate evaluated when the module graph was
 * imported. Every object resolves its instance here by name; an object addressed for an instance
 * nobody declared fails with `InstanceNotDeclared` and a log line, never with defaults.
 *
 * @since 0.1.0
 */
import type { Effect } from "effect"
import { InstanceNotDeclared, type RealtimeError } from "./RealtimeError.js"
import type { Actor } from "./schema/Common.js"
import type { CurrentRequest } from "./services/Identity.js"

/** Header names for {@link Identify} built by `identityFromHeaders` (an explicit opt-in). */
export interface IdentityHeaders {
  /** Header holding the user id of the current request. Default `x-user-id`. */
  readonly userId?: string
  /** Header holding a display name. Default `x-user-name`. */
  readonly userName?: string
  /** Header holding a client (device/tab) id, used when no user id is present. Default `x-client-id`. */
  readonly clientId?: string
}

/** Names of the Durable Object namespace bindings in the Worker's env. */
export interface RealtimeBindings {
  readonly rooms?: string
  readonly channels?: string
  readonly directory?: string
  readonly crdtRooms?: string
}

export interface RealtimeOptions {
  /** The instance name. Instances with different names share nothing. */
  readonly name: string
  /** Messages kept per room/channel history; older ones are pruned. Default 1,000. */
  readonly historyLimit?: number
  /** Largest JSON size of `data` + `metadata` of one message, in bytes. Default 64 KiB. */
  readonly maxPayloadBytes?: number
  /**
   * What a repeated `idempotencyKey` means. `"retry"` (default): the same operation retried, so
   * the originally stored message comes back with `duplicate: true`, whatever the payload of the
   * retry (a retry may carry a fresh timestamp). `"strict"`: a retry must carry the same type, data
   * and metadata; a different payload under a known key fails with `IdempotencyConflict` (409).
   */
  readonly idempotency?: "retry" | "strict"
  /** A room with no connections and no writes for this long becomes `idle`. Default 5 minutes. */
  readonly idleAfterMs?: number
  /**
   * Who is making the current request: the actor of a write that passes no explicit `actor`.
   * Back it with your own authentication (a session cookie, a bearer token). Without it, writes
   * made during a request are anonymous: no header, query or body a client sends names an actor.
   * `identityFromHeaders()` trusts identity headers, only for an edge that sets and strips them.
   */
  readonly identify?: Identify
  /** Binding names, when they differ from the defaults (`REALTIME_ROOMS`, ...). */
  readonly bindings?: RealtimeBindings
  /** Heartbeat interval told to clients (WebSocket ping, SSE comment), in ms. Default 30,000. */
  readonly heartbeat?: number
  /** Open connections per room or channel; the next one is refused (503 / 4008). Default 10,000. */
  readonly maxConnections?: number
  /** Largest client frame, in bytes, checked before parsing. Default 64 KiB. */
  readonly maxFrameBytes?: number
  /**
   * Per-connection token buckets for inbound socket frames: sustained frames per second and burst
   * (default 50/s, burst 100: room for 30-60 Hz cursor moves, which the room coalesces), and bytes
   * per second and burst (default 256 KiB/s, burst 1 MiB; the burst is never below `maxFrameBytes`).
   */
  readonly rateLimit?: Partial<RateLimitOptions>
  /**
   * The same buckets shared by every connection of one actor in one room or channel (many sockets
   * on one grant get one budget). Default 100 frames/s, burst 200; 512 KiB/s, burst 2 MiB.
   * Kept in memory: eviction or hibernation refills them.
   */
  readonly actorRateLimit?: Partial<RateLimitOptions>
  /** Largest member presence (after merging) and largest member metadata, as JSON bytes. Default 4 KiB. */
  readonly maxPresenceBytes?: number
  /** Bytes an SSE stream may have queued for a slow reader before it is closed (it resumes with `Last-Event-ID`). Default 1 MiB. */
  readonly sseBufferBytes?: number
  /** Members who joined over HTTP leave when they have not refreshed for this long, in ms. Default 60,000. */
  readonly presenceTtlMs?: number
  /** Presence changes fan out at most once per interval, in ms. Default 50. */
  readonly presenceIntervalMs?: number
  /** The Worker route prefix of live connections. Default `/realtime`. */
  readonly routePrefix?: string
  /** Hooks that run inside the room or channel actor, as Effects (see `LiveHooks`). */
  readonly hooks?: LiveHooks
  /** CRDT rooms: the largest accepted Yjs update, and when the update log is compacted. */
  readonly yjs?: YjsOptions
}

/** What `identify` resolves to: the request's actor, or nothing (the write is anonymous). */
export type IdentifyResult = Actor | undefined | null

/**
 * The application's answer to "who sent this request?". Runs in the Worker (never in a Durable
 * Object) with the current request and the Worker's env: a function answering sync, async or with
 * an Effect, or an Effect that reads `CurrentRequest` itself. A typed failure (e.g.
 * `Unauthorized`) fails the operation; a throw or an invalid actor is a `ConfigurationError`.
 */
export type Identify =
  | ((request: Request, env: Record<string, unknown>) => IdentifyResult | Promise<IdentifyResult> | Effect.Effect<IdentifyResult, RealtimeError>)
  | Effect.Effect<IdentifyResult, RealtimeError, CurrentRequest>

export interface RateLimitOptions {
  readonly perSecond: number
  readonly burst: number
  readonly bytesPerSecond: number
  readonly bytesBurst: number
}

export interface YjsOptions {
  /** Largest Yjs update (HTTP or socket frame), in bytes. Default 1 MiB. */
  readonly maxUpdateBytes?: number
  /** Compact once the log holds at least this many updates and 1.5× the base's bytes (see YjsStore.compactionDue). Default 500. */
  readonly compactAfterUpdates?: number
  /** Compact once the log holds this many bytes. Default 1 MiB. */
  readonly compactAfterBytes?: number
  /** Largest advance of one Yjs client's clock in one update (a deleted run costs bytes, not clocks). Default 16,777,216 (2^24). */
  readonly maxClockJump?: number
  /** Awareness client ids one y-websocket connection may announce (a provider uses one). Default 4. */
  readonly maxAwarenessClients?: number
  /** Largest awareness state, as UTF-8 bytes of its JSON. Default 8 KiB. */
  readonly maxAwarenessBytes?: number
  /**
   * Least time between two stores of coalesced y-websocket updates while another y-websocket
   * connection could receive them, in ms. Default 8. (Any operation, join or non-update frame,
   * and 1 MiB of pending updates, store them sooner.)
   */
  readonly storeIntervalMs?: number
  /** The same while the writer is the only y-websocket connection (nobody to forward to). Default 100. */
  readonly loneStoreIntervalMs?: number
}

/** What a hook knows about the connection it runs for. */
export interface LiveConnectionInfo {
  readonly connectionId: string
  readonly kind: "room" | "channel"
  readonly id: string
  readonly actor: { readonly type: "user" | "client" | "service" | "anonymous"; readonly id: string; readonly name?: string }
  readonly permissions: ReadonlyArray<string>
}

/** What a hook may do from inside the actor. Each call is one synchronous fan-out. */
export interface LiveHookApi {
  /** Send an event frame to this connection only. */
  readonly reply: (event: { readonly type: string; readonly data?: unknown }) => void
  /** Send an ephemeral event to every connection (except this one unless `includeSelf`). */
  readonly broadcast: (event: { readonly type: string; readonly data?: unknown }, options?: { readonly includeSelf?: boolean }) => number
  /** Send an ephemeral event to every connection of one actor id. */
  readonly sendTo: (actorId: string, event: { readonly type: string; readonly data?: unknown }) => number
  /** Store and fan out a message as this connection's actor. */
  readonly publish: (message: { readonly type: string; readonly data?: unknown; readonly metadata?: Record<string, unknown> }) => Effect.Effect<unknown, unknown>
}

/**
 * Server-side hooks, registered once with the instance; they run inside the room or channel
 * actor (in its mailbox) as Effects. A failing hook becomes an `error` frame, never a crash.
 */
export interface LiveHooks {
  /** After a connection is live (after `ready`): e.g. send a welcome event. */
  readonly onJoin?: (connection: LiveConnectionInfo, api: LiveHookApi) => Effect.Effect<void, unknown>
  /**
   * For each client `send` frame (custom server logic: validate, transform, reply, publish).
   * Without an `onMessage` hook, `send` frames are refused with an error frame.
   */
  readonly onMessage?: (
    connection: LiveConnectionInfo,
    event: { readonly type: string; readonly data: unknown },
    api: LiveHookApi,
  ) => Effect.Effect<void, unknown>
  /** After a connection closed. */
  readonly onClose?: (connection: LiveConnectionInfo, info: { readonly code: number; readonly reason: string }) => Effect.Effect<void, unknown>
}

export interface ResolvedConfig {
  readonly name: string
  readonly historyLimit: number
  readonly maxPayloadBytes: number
  readonly idempotency: "retry" | "strict"
  readonly idleAfterMs: number
  readonly identify: Identify | undefined
  readonly bindings: Required<RealtimeBindings>
  readonly heartbeatMs: number
  readonly maxConnections: number
  readonly maxFrameBytes: number
  readonly rateLimit: RateLimitOptions
  readonly actorRateLimit: RateLimitOptions
  readonly maxPresenceBytes: number
  readonly sseBufferBytes: number
  readonly presenceTtlMs: number
  readonly presenceIntervalMs: number
  readonly routePrefix: string
  readonly hooks: LiveHooks
  readonly yjs: Required<YjsOptions>
  readonly options: RealtimeOptions
}

export const defaultBindings: Required<RealtimeBindings> = {
  rooms: "REALTIME_ROOMS",
  channels: "REALTIME_CHANNELS",
  directory: "REALTIME_DIRECTORY",
  crdtRooms: "REALTIME_CRDT_ROOMS",
}

/** Fill a rate limit's missing fields; a byte burst below the largest frame would refuse every such frame. */
const resolveRateLimit = (given: Partial<RateLimitOptions> | undefined, defaults: RateLimitOptions, maxFrameBytes: number): RateLimitOptions => ({
  perSecond: given?.perSecond ?? defaults.perSecond,
  burst: given?.burst ?? defaults.burst,
  bytesPerSecond: given?.bytesPerSecond ?? defaults.bytesPerSecond,
  bytesBurst: Math.max(given?.bytesBurst ?? defaults.bytesBurst, maxFrameBytes),
})

export const resolveConfig = (options: RealtimeOptions): ResolvedConfig => ({
  name: options.name,
  historyLimit: options.historyLimit ?? 1_000,
  maxPayloadBytes: options.maxPayloadBytes ?? 64 * 1024,
  idempotency: options.idempotency ?? "retry",
  idleAfterMs: options.idleAfterMs ?? 5 * 60_000,
  identify: options.identify,
  bindings: { ...defaultBindings, ...options.bindings },
  heartbeatMs: options.heartbeat ?? 30_000,
  maxConnections: options.maxConnections ?? 10_000,
  maxFrameBytes: options.maxFrameBytes ?? 64 * 1024,
  rateLimit: resolveRateLimit(options.rateLimit, { perSecond: 50, burst: 100, bytesPerSecond: 256 * 1024, bytesBurst: 1024 * 1024 }, options.maxFrameBytes ?? 64 * 1024),
  actorRateLimit: resolveRateLimit(options.actorRateLimit, { perSecond: 100, burst: 200, bytesPerSecond: 512 * 1024, bytesBurst: 2 * 1024 * 1024 }, options.maxFrameBytes ?? 64 * 1024),
  maxPresenceBytes: options.maxPresenceBytes ?? 4 * 1024,
  sseBufferBytes: options.sseBufferBytes ?? 1024 * 1024,
  presenceTtlMs: options.presenceTtlMs ?? 60_000,
  presenceIntervalMs: options.presenceIntervalMs ?? 50,
  routePrefix: options.routePrefix ?? "/realtime",
  hooks: options.hooks ?? {},
  yjs: {
    maxUpdateBytes: options.yjs?.maxUpdateBytes ?? 1024 * 1024,
    compactAfterUpdates: options.yjs?.compactAfterUpdates ?? 500,
    compactAfterBytes: options.yjs?.compactAfterBytes ?? 1024 * 1024,
    maxClockJump: options.yjs?.maxClockJump ?? 2 ** 24,
    maxAwarenessClients: options.yjs?.maxAwarenessClients ?? 4,
    maxAwarenessBytes: options.yjs?.maxAwarenessBytes ?? 8 * 1024,
    storeIntervalMs: options.yjs?.storeIntervalMs ?? 8,
    loneStoreIntervalMs: options.yjs?.loneStoreIntervalMs ?? 100,
  },
  options,
})

/** A declared instance: made at module scope, consumed by `realtime(decl)` and `Realtime.layer(decl)`. */
export interface RealtimeDeclaration {
  readonly _tag: "RealtimeDeclaration"
  readonly name: string
  /** The options as resolved now (a later declaration of the same name refines them). */
  readonly config: ResolvedConfig
}

const registry = new Map<string, ResolvedConfig>()

export const isRealtimeDeclaration = (value: unknown): value is RealtimeDeclaration =>
  typeof value === "object" && value !== null && (value as { _tag?: unknown })._tag === "RealtimeDeclaration"

/**
 * Declare an instance in this isolate. Call it at module scope, in a module that both the Worker
 * and the Durable Object classes' module import (usually the Worker's main module), so every
 * isolate that hosts one of the instance's objects evaluates it before the object runs.
 * Declaring a name again refines the earlier options (the later ones win, key by key).
 */
export const declareRealtime = (options: RealtimeOptions): RealtimeDeclaration => {
  const earlier = registry.get(options.name)?.options
  registry.set(options.name, resolveConfig(earlier === undefined ? options : { ...earlier, ...options }))
  const name = options.name
  return {
    _tag: "RealtimeDeclaration",
    name,
    get config() {
      return registry.get(name)!
    },
  }
}

/** Register an instance's options (merged over any earlier declaration of the name); returns the resolved configuration. */
export const registerInstance = (options: RealtimeOptions): ResolvedConfig => declareRealtime(options).config

/** The configuration declared under `name` in this isolate, if any. */
export const lookupInstance = (name: string): ResolvedConfig | undefined => registry.get(name)

/** Names declared in this isolate (for error messages). */
export const declaredInstances = (): ReadonlyArray<string> => [...registry.keys()]

/**
 * The configuration of a declared instance. Throws `InstanceNotDeclared` (and logs it) when
 * nothing in this isolate declared the name: options never silently fall back to defaults.
 */
export const instanceConfig = (name: string): ResolvedConfig => {
  const found = registry.get(name)
  if (found !== undefined) return found
  throw instanceNotDeclared(name, "instance")
}

/** The loud failure of an undeclared instance: a typed error, logged once per call site. */
export const instanceNotDeclared = (instance: string, kind: string): InstanceNotDeclared => {
  const known = declaredInstances()
  const error = new InstanceNotDeclared({
    instance,
    kind,
    message:
      `durable-realtime: no instance "${instance}" is declared in this isolate (a ${kind} was addressed for it). ` +
      `Declare it at module scope (declareRealtime / realtime / Realtime.layer) in a module the Durable Object's script imports` +
      (known.length > 0 ? `; declared here: ${known.join(", ")}` : "; nothing is declared here"),
  })
  console.error(error.message)
  return error
}
