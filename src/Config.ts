/**
 * Instance configuration and the in-isolate registry of instances.
 *
 * `realtime({ name, ... })` and `Realtime.layer({ name, ... })` register their options here, at
 * module load, in the same isolate as the Durable Object classes. The actors look their instance up
 * by name, so options that are functions (hooks) reach the actor without crossing RPC.
 *
 * @since 0.1.0
 */
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
}

export interface ResolvedConfig {
  readonly name: string
  readonly historyLimit: number
  readonly maxPayloadBytes: number
  readonly idleAfterMs: number
  readonly identityHeaders: Required<IdentityHeaders>
  readonly bindings: Required<RealtimeBindings>
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
