/**
 * Instance configuration and the in-isolate registry of instances.
 *
 * `realtime({ name, ... })` and `Realtime.layer({ name, ... })` register their options here, at
 * module load, in the same isolate as the Durable Object classes. The actors look their instance up
 * by name, so options that are functions (hooks) reach the actor without crossing RPC.
 *
 * @since 0.1.0
 */
import type { Effect } from "effect"

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
  /** A room with no connections and no writes for this long becomes `idle`. Default 5 minutes. */
  readonly idleAfterMs?: number
  /** How the actor of a write is read from request headers. */
  readonly identityHeaders?: IdentityHeaders
  /** Binding names, when they differ from the defaults (`REALTIME_ROOMS`, ...). */
  readonly bindings?: RealtimeBindings
  /** Heartbeat interval told to clients (WebSocket ping, SSE comment), in ms. Default 30,000. */
  readonly heartbeat?: number
  /** Open connections per room or channel; the next one is refused (503 / 4008). Default 10,000. */
  readonly maxConnections?: number
  /** Largest client frame, in bytes, checked before parsing. Default 64 KiB. */
  readonly maxFrameBytes?: number
  /** Per-connection token bucket: sustained frames per second and burst. Default 50/s, burst 100 (room for 30-60 Hz cursor moves, which the room coalesces). */
  readonly rateLimit?: { readonly perSecond?: number; readonly burst?: number }
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

export interface YjsOptions {
  /** Largest Yjs update (HTTP or socket frame), in bytes. Default 1 MiB. */
  readonly maxUpdateBytes?: number
  /** Compact once the log holds this many updates. Default 500. */
  readonly compactAfterUpdates?: number
  /** Compact once the log holds this many bytes. Default 1 MiB. */
  readonly compactAfterBytes?: number
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
  readonly idleAfterMs: number
  readonly identityHeaders: Required<IdentityHeaders>
  readonly bindings: Required<RealtimeBindings>
  readonly heartbeatMs: number
  readonly maxConnections: number
  readonly maxFrameBytes: number
  readonly rateLimit: { readonly perSecond: number; readonly burst: number }
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

export const resolveConfig = (options: RealtimeOptions): ResolvedConfig => ({
  name: options.name,
  historyLimit: options.historyLimit ?? 1_000,
  maxPayloadBytes: options.maxPayloadBytes ?? 64 * 1024,
  idleAfterMs: options.idleAfterMs ?? 5 * 60_000,
  identityHeaders: {
    userId: options.identityHeaders?.userId ?? "x-user-id",
    userName: options.identityHeaders?.userName ?? "x-user-name",
    clientId: options.identityHeaders?.clientId ?? "x-client-id",
  },
  bindings: { ...defaultBindings, ...options.bindings },
  heartbeatMs: options.heartbeat ?? 30_000,
  maxConnections: options.maxConnections ?? 10_000,
  maxFrameBytes: options.maxFrameBytes ?? 64 * 1024,
  rateLimit: { perSecond: options.rateLimit?.perSecond ?? 50, burst: options.rateLimit?.burst ?? 100 },
  presenceTtlMs: options.presenceTtlMs ?? 60_000,
  presenceIntervalMs: options.presenceIntervalMs ?? 50,
  routePrefix: options.routePrefix ?? "/realtime",
  hooks: options.hooks ?? {},
  yjs: {
    maxUpdateBytes: options.yjs?.maxUpdateBytes ?? 1024 * 1024,
    compactAfterUpdates: options.yjs?.compactAfterUpdates ?? 500,
    compactAfterBytes: options.yjs?.compactAfterBytes ?? 1024 * 1024,
  },
  options,
})

const registry = new Map<string, ResolvedConfig>()

/** Register an instance's options (merged over any earlier registration of the name); returns the resolved configuration. */
export const registerInstance = (options: RealtimeOptions): ResolvedConfig => {
  // Options given again for the same name refine the earlier ones rather than reset them.
  const earlier = registry.get(options.name)?.options
  const resolved = resolveConfig(earlier === undefined ? options : { ...earlier, ...options })
  registry.set(options.name, resolved)
  return resolved
}

/** The configuration of a named instance; defaults when nothing registered it in this isolate. */
export const instanceConfig = (name: string): ResolvedConfig => registry.get(name) ?? resolveConfig({ name })
