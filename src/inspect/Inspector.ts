/**
 * The inspector: what an instance holds right now, for operators. Effects over the `Realtime`
 * service (and the databases you pass), returning plain JSON-ready values.
 *
 * It never decides who may look: put it behind your own admin check (see `inspectorHandler`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Inspect } from "durable-realtime"
 *
 * const busiest = Effect.gen(function* () {
 *   const { resources } = yield* Inspect.resources({ kind: "room", connectedOnly: true })
 *   return yield* Effect.forEach(resources, (room) => Inspect.room(room.id))
 * })
 * ```
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { MAX_RESOURCE_PAGE, type ResourceKind, type ResourceListQuery, type ResourcePage } from "../schema/Resources.js"
import { DirectoryOps } from "../actors/Ops.js"
import { resolveConfig } from "../Config.js"
import { databaseDefinition } from "../db/Declaration.js"
import { hubIdOfFilters, shardId, shardOf } from "../db/Placement.js"
import { DbShardOps, TableHubOps } from "../db/Ops.js"
import { callActor, type ActorNamespace } from "../internal/rpc.js"
import { directoryOf, Realtime, type DocumentStats } from "../Realtime.js"
import { InvalidInput, NotFound, type RealtimeError } from "../RealtimeError.js"
import type { StoredMessage } from "../schema/Message.js"
import type { Member } from "../schema/Protocol.js"
import type { ChannelStats, DestroyResult, InstanceStats, RoomMetadata, RoomState } from "../schema/Room.js"
import type { AwarenessResult } from "../schema/Crdt.js"

type Op<A> = Effect.Effect<A, RealtimeError, Realtime>

/** How many of the last messages the details show. */
export const INSPECT_LAST_MESSAGES = 20

export interface RoomDetails {
  readonly kind: "room"
  readonly state: RoomState
  readonly metadata: RoomMetadata
  readonly members: ReadonlyArray<Member>
  /** Newest first. */
  readonly lastMessages: ReadonlyArray<StoredMessage>
}

export interface ChannelDetails {
  readonly kind: "channel"
  readonly stats: ChannelStats
  readonly lastMessages: ReadonlyArray<StoredMessage>
}

export interface DocumentDetails {
  readonly kind: "crdtRoom"
  readonly state: RoomState
  readonly members: ReadonlyArray<Member>
  readonly document: DocumentStats
  readonly awareness: AwarenessResult["states"]
  readonly lastMessages: ReadonlyArray<StoredMessage>
}

export interface ShardBacklog {
  readonly shard: number
  /** Committed changes not yet delivered to their hubs. */
  readonly pending: number
  /** Commit time (epoch ms) of the oldest of the last outbox rows not yet published, if any. */
  readonly oldestPendingAt: number | null
}

export interface DatabaseOverview {
  readonly name: string
  readonly namespace: string
  readonly shards: ReadonlyArray<ShardBacklog>
  readonly tables: ReadonlyArray<{ readonly name: string; readonly access: string; readonly filters: ReadonlyArray<string>; readonly requiredFilters: ReadonlyArray<string>; readonly events: ReadonlyArray<string> }>
  /** The hubs of tables without required filters (one each); partitioned tables' hubs are looked up by their filters. */
  readonly hubs: ReadonlyArray<HubState>
}

export interface HubState {
  readonly database: string
  readonly table: string
  readonly filters: Readonly<Record<string, unknown>>
  readonly hub: string
  readonly seq: number
  readonly connections: number
}

/** One hub as its database's directory last heard of it (`Inspect.hubs`). */
export interface HubSummary {
  readonly database: string
  readonly table: string
  /** Its required-filter values; `null` for a hub named by a digest (values longer than an object id allows). */
  readonly filters: Readonly<Record<string, unknown>> | null
  readonly hub: string
  /** Open change-stream sockets at the last report. */
  readonly subscribers: number
  /** Changes in its resume buffer at the last report (reports follow subscribers, not every change). */
  readonly buffered: number
  /** The shard its changes come from (a partitioned table's partition lives in one); `null` when every shard feeds it or the filters are unknown. */
  readonly shard: number | null
  /** That shard's outbox backlog now (changes committed, not yet delivered to their hubs): an upper bound on this hub's. */
  readonly shardPending: number | null
}

export interface HubPage {
  readonly hubs: ReadonlyArray<HubSummary>
  readonly nextCursor: string | null
}

/** Table and filters from a hub id (`Placement.hubIdOf`: `[table, filters]` as JSON, or `table#digest`). */
const parseHubId = (hub: string): { table: string; filters: Record<string, unknown> | null } => {
  try {
    const parsed = JSON.parse(hub) as unknown
    if (Array.isArray(parsed) && typeof parsed[0] === "string" && parsed[1] !== null && typeof parsed[1] === "object") return { table: parsed[0], filters: parsed[1] as Record<string, unknown> }
  } catch {
    // a digest id: table#hex
  }
  return { table: hub.split("#")[0] ?? hub, filters: null }
}

/** A database as the inspector needs it: its declared instance (`namespace/name`). */
export interface InspectableDatabase {
  readonly name: string
  readonly namespace: string
}

const withRealtime = <A>(f: (service: Realtime["Type"]) => Effect.Effect<A, RealtimeError>): Op<A> => Effect.flatMap(Realtime, f)

const definitionOf = (database: InspectableDatabase) => {
  const definition = databaseDefinition(`${database.namespace}/${database.name}`)
  return definition === undefined ? Effect.fail(new NotFound({ what: "database", message: `no database ${database.name} is declared in this Worker` })) : Effect.succeed(definition)
}

const namespaceOf = (env: Record<string, unknown>, binding: string) => {
  const namespace = env[binding] as ActorNamespace | undefined
  return namespace === undefined ? Effect.fail(new InvalidInput({ field: "bindings", message: `no Durable Object binding ${binding}` })) : Effect.succeed(namespace)
}

/** The inspector's operations. */
export const Inspect = {
  /** Instance-wide counts. */
  stats: (): Op<InstanceStats> => Realtime.stats(),

  /** A page of the directory's index: rooms, channels and documents with their counts, ordered by kind and id. */
  resources: (query: ResourceListQuery = {}): Op<ResourcePage> =>
    withRealtime((service) => directoryOf(service).list(query)),

  /** A room's state, metadata, members with their presence, and last messages. */
  room: (id: string, lastMessages = INSPECT_LAST_MESSAGES): Op<RoomDetails> =>
    withRealtime((service) => {
      const room = service.room(id)
      return Effect.map(
        Effect.all({ state: room.state(), metadata: room.metadata(), members: room.members(), history: room.history({ limit: lastMessages }) }),
        ({ state, metadata, members, history }): RoomDetails => ({ kind: "room", state, metadata, members: members.members, lastMessages: history.messages }),
      )
    }),

  /** A channel's stats and last messages. */
  channel: (id: string, lastMessages = INSPECT_LAST_MESSAGES): Op<ChannelDetails> =>
    withRealtime((service) => {
      const channel = service.channel(id)
      return Effect.map(Effect.all({ stats: channel.stats(), history: channel.history({ limit: lastMessages }) }), ({ stats, history }): ChannelDetails => ({
        kind: "channel",
        stats,
        lastMessages: history.messages,
      }))
    }),

  /** A document's storage (stored bytes, log length), awareness clients, members and last messages. */
  document: (id: string, lastMessages = INSPECT_LAST_MESSAGES): Op<DocumentDetails> =>
    withRealtime((service) => {
      const doc = service.crdtRoom(id)
      return Effect.map(
        Effect.all({ state: doc.state(), members: doc.members(), document: doc.documentStats(), awareness: doc.awareness(), history: doc.history({ limit: lastMessages }) }),
        ({ state, members, document, awareness, history }): DocumentDetails => ({
          kind: "crdtRoom",
          state,
          members: members.members,
          document,
          awareness: awareness.states,
          lastMessages: history.messages,
        }),
      )
    }),

  /** Destroy a room, channel or document: its connections close with 4004 and later writes fail. */
  destroy: (kind: Exclude<ResourceKind, "tableHub">, id: string, options: { readonly deleteHistory?: boolean } = {}): Op<DestroyResult> =>
    withRealtime((service) => {
      const input = { deleteHistory: options.deleteHistory ?? false }
      return kind === "room" ? service.room(id).destroy(input) : kind === "channel" ? service.channel(id).destroy(input) : service.crdtRoom(id).destroy(input)
    }),

  /** A database's shards with their outbox backlog, and its streamed tables. */
  database: (database: InspectableDatabase, env: Record<string, unknown>): Effect.Effect<DatabaseOverview, RealtimeError> =>
    Effect.gen(function* () {
      const definition = yield* definitionOf(database)
      const shards = yield* namespaceOf(env, definition.bindings.shards)
      const backlog = yield* Effect.forEach(
        Array.from({ length: definition.shards }, (_, n) => n),
        (n) =>
          Effect.map(callActor(shards, "dbShard", { instance: definition.instance, id: shardId(n) }, DbShardOps.outbox, { limit: 100 }), ({ pending, rows }): ShardBacklog => {
            const unpublished = rows.filter((row) => row.published_at === null).map((row) => row.created_at)
            return { shard: n, pending, oldestPendingAt: unpublished.length === 0 ? null : Math.min(...unpublished) }
          }),
        { concurrency: 4 },
      )
      const tables = [...definition.tables.values()]
        .filter((table) => table.realtime !== undefined)
        .map((table) => ({
          name: table.name,
          access: table.realtime!.access,
          filters: table.realtime!.filters,
          requiredFilters: table.realtime!.requiredFilters,
          events: table.realtime!.events,
        }))
      const hubs = yield* Effect.forEach(
        tables.filter((table) => table.requiredFilters.length === 0),
        (table) => Inspect.hub(database, env, table.name, {}),
        { concurrency: 4 },
      )
      return { name: definition.name, namespace: definition.namespace, shards: backlog, tables, hubs }
    }),

  /**
   * A page of a database's hubs (every table, partitioned or not) from its directory, ordered by
   * hub id: table, partition filters, subscribers and buffered changes as last reported.
   */
  hubs: (database: InspectableDatabase, env: Record<string, unknown>, query: { readonly limit?: number; readonly cursor?: string | null } = {}): Effect.Effect<HubPage, RealtimeError> =>
    Effect.gen(function* () {
      const definition = yield* definitionOf(database)
      const directories = yield* namespaceOf(env, resolveConfig({ name: definition.instance }).bindings.directory)
      const page = yield* callActor(directories, "directory", { instance: definition.instance, id: "directory" }, DirectoryOps.list, {
        kind: "tableHub",
        limit: query.limit ?? MAX_RESOURCE_PAGE,
        ...(query.cursor === undefined || query.cursor === null ? {} : { cursor: query.cursor }),
      })
      const hubs = page.resources.map((entry) => {
        const { table, filters } = parseHubId(entry.id)
        const resolved = definition.tables.get(table)
        const partitioned = resolved !== undefined && (resolved.realtime?.requiredFilters.length ?? 0) > 0 && filters !== null && filters[resolved.shardColumn] !== undefined
        return { table, filters, hub: entry.id, subscribers: entry.connections, buffered: entry.messages, shard: partitioned ? shardOf(filters[resolved.shardColumn], definition.shards) : null }
      })
      // One outbox read per shard the page's hubs come from (at most the database's shard count).
      const shardNumbers = [...new Set(hubs.flatMap((hub) => (hub.shard === null ? [] : [hub.shard])))]
      const shards = shardNumbers.length === 0 ? undefined : yield* namespaceOf(env, definition.bindings.shards)
      const pending = new Map<number, number>()
      if (shards !== undefined) {
        yield* Effect.forEach(
          shardNumbers,
          (n) => Effect.map(callActor(shards, "dbShard", { instance: definition.instance, id: shardId(n) }, DbShardOps.outbox, { limit: 1 }), (outbox) => pending.set(n, outbox.pending)),
          { concurrency: 4, discard: true },
        )
      }
      return {
        hubs: hubs.map((hub): HubSummary => ({ database: definition.name, ...hub, shardPending: hub.shard === null ? null : (pending.get(hub.shard) ?? null) })),
        nextCursor: page.nextCursor,
      }
    }),

  /** The change-stream hub of one table partition (its required-filter values): stream position and subscribers. */
  hub: (database: InspectableDatabase, env: Record<string, unknown>, table: string, filters: Readonly<Record<string, unknown>>): Effect.Effect<HubState, RealtimeError> =>
    Effect.gen(function* () {
      const definition = yield* definitionOf(database)
      const resolved = definition.tables.get(table)
      if (resolved?.realtime === undefined) return yield* new NotFound({ what: "table", message: `${definition.name} streams no table "${table}"` })
      const missing = resolved.realtime.requiredFilters.filter((column) => filters[column] === undefined)
      if (missing.length > 0) return yield* new InvalidInput({ field: `filters.${missing[0]}`, message: `filters.${missing[0]}: a hub of ${table} is named by its required filters` })
      const hub = hubIdOfFilters(resolved, filters)
      // A partition streamed from its shard is held by that shard, not by a table hub object.
      const state =
        resolved.realtime.streamFrom === "shard"
          ? yield* callActor(yield* namespaceOf(env, definition.bindings.shards), "dbShard", { instance: definition.instance, id: shardId(shardOf(filters[resolved.shardColumn], definition.shards)) }, DbShardOps.streamState, { hub })
          : yield* callActor(yield* namespaceOf(env, definition.bindings.hubs), "tableHub", { instance: definition.instance, id: hub }, TableHubOps.state)
      return { database: definition.name, table, filters, hub, seq: state.seq, connections: state.connections }
    }),
}
