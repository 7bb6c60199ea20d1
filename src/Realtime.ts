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
import { callActor, type ActorNamespace } from "./internal/rpc.js"
import { ResourceId } from "./schema/Common.js"
import type { BroadcastInput, BroadcastResult, HistoryPage, HistoryQuery, PublishInput, PublishResult } from "./schema/Message.js"
import type { ChannelStats, DestroyInput, DestroyResult, InstanceStats, RoomMetadata, RoomState, SetMetadataInput } from "./schema/Room.js"
import { currentCaller, identityFromHeaders } from "./services/Identity.js"
import { workersEnv } from "./durable/workersEnv.js"
import type { JoinInput, JoinResult, LeaveInput, LeaveResult, MembersResult, PresenceInput, SendToResult } from "./schema/Members.js"
import type { Member } from "./schema/Protocol.js"
import { authorizeCrdt, authorizeLive, type AuthorizeInputType as AuthorizeInput, type LiveGrant } from "./http/Authorize.js"
import type { CrdtGrant } from "./schema/Protocol.js"
import type {
  ApplyYjsUpdateInput,
  ApplyYjsUpdateResult,
  AwarenessResult,
  CompactResult,
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

export interface DocumentStats {
  readonly stateVectorBase64: string
  readonly lastSeq: number
  readonly compactedThrough: number
  readonly logUpdates: number
  readonly storedBytes: number
  readonly encodedBytes: number
  readonly awarenessClients: number
  /** Since the object last woke: update bytes received, bytes and rows written for them. */
  readonly receivedBytes: number
  readonly writtenBytes: number
  readonly writtenRows: number
}

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
  /** Call any operation of any actor kind; the typed handles are built on this. */
  readonly call: (kind: string, id: string, op: string, input?: unknown) => Op<unknown>
}

/** Build the service for one instance over the Worker's env (its Durable Object bindings). */
export const makeRealtime = (config: ResolvedConfig, env: Record<string, unknown>): RealtimeService => {
  const bindingFor: Record<string, string> = {
    room: config.bindings.rooms,
    channel: config.bindings.channels,
    directory: config.bindings.directory,
    crdtRoom: config.bindings.crdtRooms,
  }
  const call = (kind: string, id: string, op: string, input?: unknown): Op<unknown> =>
    Effect.gen(function* () {
      const binding = bindingFor[kind] ?? kind
      const namespace = env[binding] as ActorNamespace | undefined
      if (namespace === undefined) {
        return yield* Effect.dieMessage(`durable-realtime: no Durable Object binding "${binding}" for ${kind}s; see the README`)
      }
      const validId = yield* Effect.mapError(Schema.decodeUnknown(ResourceId)(id), (error) => invalidInputFromParseError(error, "id"))
      const caller = yield* currentCaller(config, env)
      return yield* callActor(namespace, kind, { instance: config.name, id: validId }, op, input, caller)
    })
  const typed = <A>(kind: string, id: string, op: string) => (input?: unknown) => call(kind, id, op, input) as Op<A>

  const roomOps = (kind: "room" | "crdtRoom", id: string): Omit<RoomHandle, "authorize"> => ({
      publish: typed<PublishResult>(kind, id, "publish"),
      broadcast: typed<BroadcastResult>(kind, id, "broadcast"),
      history: typed<HistoryPage>(kind, id, "history"),
      metadata: (input) => (input === undefined ? typed<RoomMetadata>(kind, id, "getMetadata")() : typed<RoomMetadata>(kind, id, "setMetadata")(input)),
      state: typed<RoomState>(kind, id, "state"),
      destroy: typed<DestroyResult>(kind, id, "destroy"),
      join: (input) => typed<JoinResult>(kind, id, "join")(input ?? {}),
      leave: (input) => typed<LeaveResult>(kind, id, "leave")(input ?? {}),
      presence: typed<Member>(kind, id, "presence"),
      members: typed<MembersResult>(kind, id, "members"),
      sendTo: (actorId, event) => typed<SendToResult>(kind, id, "sendTo")({ actorId, event }),
      snapshot: (input) => typed<SnapshotInfo>(kind, id, "snapshot")(input ?? {}),
      snapshots: typed<SnapshotsResult>(kind, id, "snapshots"),
      restore: typed<RestoreResult>(kind, id, "restore"),
  })

  return {
    name: config.name,
    config,
    call,
    crdtRoom: (id) => ({
      ...roomOps("crdtRoom", id),
      applyYjsUpdate: typed<ApplyYjsUpdateResult>("crdtRoom", id, "applyYjsUpdate"),
      syncYjs: (input) => typed<SyncYjsResult>("crdtRoom", id, "syncYjs")(input ?? {}),
      awareness: (input) => (input === undefined ? typed<AwarenessResult>("crdtRoom", id, "getAwareness")() : typed<AwarenessResult>("crdtRoom", id, "setAwareness")(input)),
      stream: (query) => typed<StreamPage>("crdtRoom", id, "stream")(query ?? {}),
      compact: typed<CompactResult>("crdtRoom", id, "compact"),
      documentStats: typed<DocumentStats>("crdtRoom", id, "documentStats"),
      authorize: (input) => authorizeCrdt(config, env, id, input),
    }),
    room: (id) => ({
      ...roomOps("room", id),
      authorize: (input) => authorizeLive(config, env, "room", id, input),
    }),
    channel: (id) => ({
      publish: typed<PublishResult>("channel", id, "publish"),
      broadcast: typed<BroadcastResult>("channel", id, "broadcast"),
      history: typed<HistoryPage>("channel", id, "history"),
      stats: typed<ChannelStats>("channel", id, "stats"),
      state: typed<RoomState>("channel", id, "state"),
      destroy: typed<DestroyResult>("channel", id, "destroy"),
      sendTo: (actorId, event) => typed<SendToResult>("channel", id, "sendTo")({ actorId, event }),
      authorize: (input) => authorizeLive(config, env, "channel", id, input),
    }),
    stats: () => call("directory", "directory", "stats") as Op<InstanceStats>,
  }
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
