/**
 * The `Realtime` service: rooms, channels and instance stats as Effects.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Realtime } from "durable-realtime"
 *
 * const program = Effect.gen(function* () {
 *   const { message } = yield* Realtime.room("project_123").publish({ type: "task.created", data: { taskId: "t1" } })
 *   const page = yield* Realtime.channel("deployments").history({ limit: 50 })
 *   return { message, page }
 * }).pipe(Effect.provide(Realtime.layer({ name: "live" })))
 * ```
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Schema } from "effect"
import { declareRealtime, isRealtimeDeclaration, type RealtimeDeclaration, type RealtimeOptions, type ResolvedConfig } from "./Config.js"
import { invalidInputFromParseError, type RealtimeError } from "./RealtimeError.js"
import { ChannelOps, CrdtRoomOps, DirectoryOps, RoomOps } from "./actors/Ops.js"
import * as Operations from "./internal/Operations.js"
import { sendToActor, type ActorNamespace } from "./internal/rpc.js"
import { ResourceId } from "./schema/Common.js"
import type { BroadcastInput, BroadcastResult, HistoryPage, HistoryQuery, PublishInput, PublishResult } from "./schema/Message.js"
import type { ChannelStats, DestroyInput, DestroyResult, InstanceStats, RoomMetadata, RoomState, SetMetadataInput } from "./schema/Room.js"
import { currentCaller, identityFromHeaders } from "./services/Identity.js"
import { workersEnv } from "./internal/workersEnv.js"
import type { JoinInput, JoinResult, LeaveInput, LeaveResult, MembersResult, PresenceInput, SendToResult } from "./schema/Members.js"
import type { Member } from "./schema/Protocol.js"
import { authorizeCrdt, authorizeLive, type AuthorizeInputType as AuthorizeInput, type LiveGrant } from "./http/Authorize.js"
import type { CrdtGrant } from "./schema/LiveGrant.js"
import type {
  ApplyYjsUpdateInput,
  ApplyYjsUpdateResult,
  AwarenessResult,
  CompactResult,
  DocumentStats as DocumentStatsSchema,
  RestoreInput,
  RestoreResult,
  SetAwarenessInput,
  SnapshotInfo,
  SnapshotInput,
  SnapshotsResult,
  StreamPage,
  StreamQuery,
  SyncYjsInput,
  SyncYjsResult,
} from "./schema/Crdt.js"

type Op<A> = Effect.Effect<A, RealtimeError>

export interface RoomHandle {
  /** Store a message and deliver it to every subscriber. Idempotent with `idempotencyKey`. */
  readonly publish: (input: PublishInput) => Op<PublishResult>
  /** Deliver an event to subscribers; stored like `publish` unless `ephemeral: true`. */
  readonly broadcast: (input: BroadcastInput) => Op<BroadcastResult>
  /** A page of history, newest first by default. */
  readonly history: (query?: HistoryQuery) => Op<HistoryPage>
  /** Read the room's metadata, or replace it when `{ metadata }` is given. */
  readonly metadata: (input?: SetMetadataInput) => Op<RoomMetadata>
  readonly state: () => Op<RoomState>
  readonly destroy: (input?: DestroyInput) => Op<DestroyResult>
  /** Join as a member (over HTTP: expires after `presenceTtlMs` unless refreshed). Returns members and room metadata. */
  readonly join: (input?: JoinInput) => Op<JoinResult>
  readonly leave: (input?: LeaveInput) => Op<LeaveResult>
  /** Merge into the member's presence (joins if needed); fanned out coalesced, never stored in history. */
  readonly presence: (input: PresenceInput) => Op<Member>
  readonly members: () => Op<MembersResult>
  /** An ephemeral event to every connection of one actor id. */
  readonly sendTo: (actorId: string, event: { readonly type: string; readonly data?: unknown }) => Op<SendToResult>
  /** A short-lived grant for a browser: `{ url, protocols, token, expiresAt }`. */
  readonly authorize: (input: AuthorizeInput) => Op<LiveGrant>
  /** Keep the room's history position and metadata (and, for CRDT rooms, the document). */
  readonly snapshot: (input?: SnapshotInput) => Op<SnapshotInfo>
  readonly snapshots: () => Op<SnapshotsResult>
  /** Go back to a snapshot: later messages leave history and a new epoch starts. */
  readonly restore: (input: RestoreInput) => Op<RestoreResult>
}

/** A room with a Yjs document. */
export interface CrdtRoomHandle extends Omit<RoomHandle, "authorize"> {
  /** Validate, apply, persist and deliver an update to every connected client but its origin. */
  readonly applyYjsUpdate: (input: ApplyYjsUpdateInput) => Op<ApplyYjsUpdateResult>
  /** What a client with this state vector is missing (the whole document without one). */
  readonly syncYjs: (input?: SyncYjsInput) => Op<SyncYjsResult>
  /** Read the awareness states, or set one client's (`state: null` removes it). */
  readonly awareness: (input?: SetAwarenessInput) => Op<AwarenessResult>
  /** The ordered update stream, for replay and audit. */
  readonly stream: (query?: StreamQuery) => Op<StreamPage>
  /** Fold the update log into the base state now (also done automatically). */
  readonly compact: () => Op<CompactResult>
  readonly documentStats: () => Op<DocumentStats>
  /** A grant for the room's JSON connection and its y-websocket endpoint. */
  readonly authorize: (input: AuthorizeInput) => Op<CrdtGrant>
}

/** A CRDT room's document figures (`documentStats()`). */
export type DocumentStats = DocumentStatsSchema


export interface ChannelHandle {
  readonly publish: (input: PublishInput) => Op<PublishResult>
  readonly broadcast: (input: BroadcastInput) => Op<BroadcastResult>
  readonly history: (query?: HistoryQuery) => Op<HistoryPage>
  readonly stats: () => Op<ChannelStats>
  readonly state: () => Op<RoomState>
  readonly destroy: (input?: DestroyInput) => Op<DestroyResult>
  readonly sendTo: (actorId: string, event: { readonly type: string; readonly data?: unknown }) => Op<SendToResult>
  readonly authorize: (input: AuthorizeInput) => Op<LiveGrant>
}

export interface RealtimeService {
  readonly name: string
  readonly config: ResolvedConfig
  readonly room: (id: string) => RoomHandle
  readonly channel: (id: string) => ChannelHandle
  readonly crdtRoom: (id: string) => CrdtRoomHandle
  readonly stats: () => Op<InstanceStats>
}

/** Each service's directory client, for the library's own tools (the inspector): not public. */
const directories = new WeakMap<RealtimeService, Operations.Client<typeof DirectoryOps>>()

/** The directory operations of a service built by `makeRealtime` (internal: the inspector lists resources with it). */
export const directoryOf = (service: RealtimeService): Operations.Client<typeof DirectoryOps> => {
  const directory = directories.get(service)
  if (directory === undefined) throw new Error("durable-realtime: not a service built by makeRealtime")
  return directory
}

/** Build the service for one instance over the Worker's env (its Durable Object bindings). */
export const makeRealtime = (config: ResolvedConfig, env: Record<string, unknown>): RealtimeService => {
  const bindingFor = {
    room: config.bindings.rooms,
    channel: config.bindings.channels,
    directory: config.bindings.directory,
    crdtRoom: config.bindings.crdtRooms,
  } as const
  /** How a handle reaches one actor: its binding, its validated id, the caller of the request. */
  const sendTo =
    (kind: keyof typeof bindingFor, id: string): Operations.Send =>
    (op, input) =>
      Effect.gen(function* () {
        const binding = bindingFor[kind]
        const namespace = env[binding] as ActorNamespace | undefined
        if (namespace === undefined) {
          return yield* Effect.dieMessage(`durable-realtime: no Durable Object binding "${binding}" for ${kind}s; see the README`)
        }
        const validId = yield* Effect.mapError(Schema.decodeUnknown(ResourceId)(id), (error) => invalidInputFromParseError(error, "id"))
        const caller = yield* currentCaller(config, env)
        return yield* sendToActor(namespace, kind, { instance: config.name, id: validId }, op, input, caller)
      })

  /** What rooms and CRDT rooms share, over either kind's client. */
  const roomOps = (ops: Operations.Client<typeof RoomOps>): Omit<RoomHandle, "authorize"> => ({
    publish: ops.publish,
    broadcast: ops.broadcast,
    history: ops.history,
    metadata: (input) => (input === undefined ? ops.getMetadata() : ops.setMetadata(input)),
    state: () => ops.state(),
    destroy: ops.destroy,
    join: (input) => ops.join(input ?? {}),
    leave: (input) => ops.leave(input ?? {}),
    presence: ops.presence,
    members: () => ops.members(),
    sendTo: (actorId, event) => ops.sendTo({ actorId, event }),
    snapshot: (input) => ops.snapshot(input ?? {}),
    snapshots: () => ops.snapshots(),
    restore: ops.restore,
  })

  const directory = Operations.client(DirectoryOps, sendTo("directory", "directory"))
  const service: RealtimeService = {
    name: config.name,
    config,
    crdtRoom: (id) => {
      const ops = Operations.client(CrdtRoomOps, sendTo("crdtRoom", id))
      return {
        ...roomOps(ops),
        applyYjsUpdate: ops.applyYjsUpdate,
        syncYjs: (input) => ops.syncYjs(input ?? {}),
        awareness: (input) => (input === undefined ? ops.getAwareness() : ops.setAwareness(input)),
        stream: (query) => ops.stream(query ?? {}),
        compact: () => ops.compact(),
        documentStats: () => ops.documentStats(),
        authorize: (input) => authorizeCrdt(config, env, id, input),
      }
    },
    room: (id) => ({
      ...roomOps(Operations.client(RoomOps, sendTo("room", id))),
      authorize: (input) => authorizeLive(config, env, "room", id, input),
    }),
    channel: (id) => {
      const ops = Operations.client(ChannelOps, sendTo("channel", id))
      return {
        publish: ops.publish,
        broadcast: ops.broadcast,
        history: ops.history,
        stats: () => ops.stats(),
        state: () => ops.state(),
        destroy: ops.destroy,
        sendTo: (actorId, event) => ops.sendTo({ actorId, event }),
        authorize: (input) => authorizeLive(config, env, "channel", id, input),
      }
    },
    stats: () => directory.stats(),
  }
  directories.set(service, directory)
  return service
}

type Lifted<H> = { readonly [K in keyof H]: H[K] extends (...args: infer P) => Effect.Effect<infer A, infer E> ? (...args: P) => Effect.Effect<A, E, Realtime> : never }

const lift = <H extends object>(select: (service: RealtimeService) => H): Lifted<H> =>
  new Proxy({} as Lifted<H>, {
    get: (_, key) => (...args: Array<unknown>) =>
      Effect.flatMap(Realtime, (service) => (select(service) as Record<PropertyKey, (...a: Array<unknown>) => Op<unknown>>)[key](...args)),
  })

/** The Realtime service of one instance. */
export class Realtime extends Context.Tag("durable-realtime/Realtime")<Realtime, RealtimeService>() {
  /** `yield* Realtime.room(id).publish(...)` anywhere the service is provided. */
  static room = (id: string): Lifted<RoomHandle> => lift((service) => service.room(id))
  /** `yield* Realtime.crdtRoom(id).applyYjsUpdate(...)`. */
  static crdtRoom = (id: string): Lifted<CrdtRoomHandle> => lift((service) => service.crdtRoom(id))
  /** `yield* Realtime.channel(id).history(...)`. */
  static channel = (id: string): Lifted<ChannelHandle> => lift((service) => service.channel(id))
  /**
   * An `identify` option that trusts identity headers (`x-user-id`, `x-user-name`, `x-client-id`
   * unless renamed): only for an edge that sets them and strips them from client requests.
   */
  static identityFromHeaders = identityFromHeaders
  /** Instance-wide counts of rooms, channels, members and messages. */
  static stats = (): Effect.Effect<InstanceStats, RealtimeError, Realtime> => Effect.flatMap(Realtime, (service) => service.stats())

  /**
   * Declare an instance at module scope (see `declareRealtime`): the value `Realtime.layer` and
   * `realtime` consume, and what every Durable Object of the instance resolves its options from.
   */
  static declare = (options: RealtimeOptions): RealtimeDeclaration => declareRealtime(options)

  /**
   * The service for one declared instance. `env` is the Worker's env; omitted, it is read from
   * `cloudflare:workers`.
   *
   * Given options instead of a declaration, the instance is declared when `layer` is called, not
   * when the layer is built: call it at module scope (`export const LiveLayer = Realtime.layer({...})`)
   * so the Durable Objects' isolates declare it on import too.
   */
  static layer = (
    declaration: RealtimeDeclaration | (RealtimeOptions & { readonly env?: Record<string, unknown> }),
    options: { readonly env?: Record<string, unknown> } = {},
  ): Layer.Layer<Realtime> => {
    const declared = isRealtimeDeclaration(declaration) ? declaration : declareRealtime(declaration)
    const env = options.env ?? (isRealtimeDeclaration(declaration) ? undefined : declaration.env)
    return Layer.sync(Realtime, () => makeRealtime(declared.config, env ?? workersEnv()))
  }
}
