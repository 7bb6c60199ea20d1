/**
 * The change streams a shard hosts itself: every partition of its `streamFrom: "shard"` tables
 * whose rows it holds. Such a partition gets changes from this shard only (its first required
 * filter places the rows and cannot change in an update; or the database has one shard), so its
 * stream can live here, with no RPC to a table hub, and its subscribers connect to this object.
 *
 * A write of a hosted table buffers its change in the partition's stream inside its own SQLite
 * transaction (its outbox row stored published), and fans it out once that committed, in the same
 * turn: exactly once by construction. Changes still pending from before a restart go through the
 * drain first, applied here by `publish` (exactly once per outbox id, as a hub does), and until
 * they are, new writes take that path too, so a partition's order holds.
 *
 * Each partition is a `HubStream` (the table hub's own code) over its slice of the shard's
 * partition buffer (`HubChangeStore.partition`), loaded when first used after a wake. Everything a
 * hub does holds: exactly once per outbox id, order, `since` replay, snapshots, gap markers for
 * parked changes, grant expiry and the socket layer's guards, and directory reports: each partition
 * is listed in its database's directory under its hub id, as a table hub lists itself (on its first
 * use after a wake and whenever its subscribers change, coalesced by the `directory` job).
 *
 * @since 0.2.0
 */
import { Effect, type Context } from "effect"
import { InvalidInput, type RealtimeError } from "../../RealtimeError.js"
import type { ConnectionEntry, ConnectionsShape } from "../../sockets/Connections.js"
import type { SocketsShape } from "../../sockets/Sockets.js"
import type { HubChangeStoreShape } from "../../storage/HubChangeStore.js"
import type { SqlShape } from "../../services/Sql.js"
import type { DirectoryClient } from "../../services/Directory.js"
import type { DatabaseDefinition } from "../Declaration.js"
import { OUTBOX_TABLE } from "../Names.js"
import { hubIdOfFilters, shardOf } from "../Placement.js"
import type { PublishChanges } from "../Protocol.js"
import { changesByHub, type InlineStreams } from "../Writes.js"
import { mergePages, planSelect } from "../Query.js"
import { acceptSubscription, subscriptionFetch, type ReadSnapshot } from "../hub/HubAccept.js"
import { subscriberOf } from "../hub/HubSockets.js"
import { loadHubStream, type HubStream } from "../hub/HubStream.js"

export const makeShardStreams = (options: {
  readonly definition: DatabaseDefinition
  readonly shard: number
  readonly sql: SqlShape
  readonly store: HubChangeStoreShape
  readonly connections: ConnectionsShape
  readonly sockets: SocketsShape
  readonly directory: Context.Tag.Service<typeof DirectoryClient>
}) => {
  const { definition, shard, sql, store, connections, sockets, directory } = options
  const streams = new Map<string, HubStream>()

  // The open sockets by partition, regrouped only when the socket set changes: the layer's cached list
  // is replaced when a socket goes and appended to in place when one comes, so its length is compared too.
  let groupedFrom: ReadonlyArray<ConnectionEntry> | undefined
  let groupedLength = 0
  let grouped = new Map<string, Array<ConnectionEntry>>()
  const partitionsNow = (): ReadonlyMap<string, ReadonlyArray<ConnectionEntry>> => {
    const open = connections.list()
    if (open !== groupedFrom || open.length !== groupedLength) {
      grouped = new Map()
      for (const entry of open) {
        const partition = subscriberOf(entry.attachment)?.hub
        if (partition === undefined) continue
        const list = grouped.get(partition)
        if (list === undefined) grouped.set(partition, [entry])
        else list.push(entry)
      }
      groupedFrom = open
      groupedLength = open.length
    }
    return grouped
  }
  const subscribersOf = (hub: string): ReadonlyArray<ConnectionEntry> => partitionsNow().get(hub) ?? []

  const streamOf = (hub: string): Effect.Effect<HubStream> => {
    const loaded = streams.get(hub)
    if (loaded !== undefined) return Effect.succeed(loaded)
    return Effect.map(loadHubStream({ definition, store: store.partition(hub), subscribers: () => subscribersOf(hub) }), (stream) => {
      // Loading is synchronous SQLite: no other load of the same partition can have finished meanwhile.
      streams.set(hub, stream)
      reportPending = true
      return stream
    })
  }

  /** Per partition, the subscribers its last directory report carried (none yet: not reported since this wake). */
  const reported = new Map<string, number>()

  /**
   * Whether a report may be due: a partition was first used since this wake, or a subscriber joined or
   * left. A flag, not a scan, so a write's check costs nothing however many partitions are hosted.
   */
  let reportPending = connections.count() > 0
  const subscribersChanged = () => void (reportPending = true)

  /** The `directory` job: reports each partition whose subscribers changed, with its buffered count as of now. */
  const report = (version: number) =>
    Effect.gen(function* () {
      reportPending = false
      // Partitions used since this wake, and those of sockets open since before it.
      for (const hub of new Set([...streams.keys(), ...partitionsNow().keys()])) {
        const subscribers = subscribersOf(hub).length
        if (reported.get(hub) === subscribers) continue
        const stream = yield* streamOf(hub)
        yield* directory.report({ kind: "tableHub", id: hub, messages: stream.buffered(), members: 0, connections: subscribers, destroyed: false, version })
        reported.set(hub, subscribers)
      }
    })

  /** A hosted partition's position and subscribers (`Inspect.hub`). */
  const state = (hub: string) => Effect.map(streamOf(hub), (stream) => ({ seq: stream.seq(), connections: subscribersOf(hub).length }))

  /** Whether a change of this table goes to a stream of this shard rather than to a table hub. */
  const hosts = (tableName: string) => definition.tables.get(tableName)?.realtime?.streamFrom === "shard"

  /**
   * Whether outbox rows committed before may still be pending (known at wake, cleared by a drain that
   * left nothing behind). Until then a hosted change goes through the drain like any other, so it is
   * never streamed before an earlier change of its partition.
   */
  let backlog = false

  /** A partition's stream, loaded when first used (a synchronous read: inside the write's transaction). */
  const streamFor = (hub: string) => streams.get(hub) ?? Effect.runSync(streamOf(hub))

  /** Writes of hosted tables buffered and delivered in the write's own transaction and turn (`Writes.applyBatch`). */
  const inline: InlineStreams = {
    shard,
    takes: (table) => !backlog && table.realtime?.streamFrom === "shard",
    append: (exec, changes) => {
      // Loading a partition's stream is a synchronous read, inside this transaction like the appends.
      // A loaded stream is taken as it is: an Effect run per write only to unwrap it cost more than the append.
      // The common write, one change of one partition: no grouping.
      if (changes.length === 1 && changes[0].hubs.length === 1) return streamFor(changes[0].hubs[0]).appendIn(exec, [changes[0].change])
      const settle = [...changesByHub(changes)].map(([hub, list]) => streamFor(hub).appendIn(exec, list))
      return () => {
        for (const run of settle) run()
      }
    },
  }

  /** A drained batch for one hosted partition: the hub's `publish`, without the RPC. */
  const publish = (hub: string, input: PublishChanges) => Effect.flatMap(streamOf(hub), (stream) => stream.apply(input))

  /** The snapshot of a hosted partition: this shard's rows and outbox position, read in one synchronous transaction. */
  const readSnapshot: ReadSnapshot = (table, subscription, limit, cursor) =>
    Effect.gen(function* () {
      const query = { where: subscription.filters, limit, ...(cursor === undefined ? {} : { cursor }) }
      const planned = yield* planSelect(table, query)
      const answer = yield* Effect.orDie(
        sql.transaction((exec) => {
          const raw = exec(planned.sql, ...planned.params)
          return { page: planned.toPage(raw), watermark: exec<{ id: number | null }>(`SELECT MAX(id) AS id FROM ${OUTBOX_TABLE}`)[0]?.id ?? 0 }
        }),
      )
      return { page: mergePages(table, query, [answer.page]), watermarks: { [String(shard)]: answer.watermark } }
    })

  /**
   * A subscription the Worker forwarded here. `exclusive` runs the accept with no change applied
   * meanwhile (the shard's drain lock), so the snapshot or replay and the socket joining are exact.
   */
  const fetch = (request: Request, exclusive: <A, E>(effect: Effect.Effect<A, E>) => Effect.Effect<A, E>) =>
    subscriptionFetch(request, (subscription): Effect.Effect<Response, RealtimeError> => {
      const table = definition.tables.get(subscription.table)
      if (table?.realtime?.streamFrom !== "shard") return Effect.fail(new InvalidInput({ field: "table", message: `table: ${subscription.table} is not streamed from its shards` }))
      const home = shardOf(subscription.filters[table.shardColumn], definition.shards)
      if (home !== shard) return Effect.fail(new InvalidInput({ field: "filters", message: `filters: this partition of ${table.name} is placed on shard ${home}, not ${shard}` }))
      const hub = hubIdOfFilters(table, subscription.filters)
      return exclusive(
        Effect.flatMap(streamOf(hub), (stream) => Effect.tap(acceptSubscription({ definition, stream, sockets, readSnapshot, hub, subscription, table }), () => subscribersChanged())),
      )
    })

  return {
    hosts,
    publish,
    fetch,
    inline,
    // For the lone insert's straight path (`LoneInsert.ts`): the same streams and subscribers `inline` uses.
    streamFor,
    subscribersOf,
    reportDue: () => reportPending,
    subscribersChanged,
    report,
    state,
    backlogged: () => void (backlog = true),
    caughtUp: () => void (backlog = false),
  }
}
