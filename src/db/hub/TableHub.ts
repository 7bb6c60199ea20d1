/**
 * The table hub actor: one change stream of one table partition (the values of the table's
 * required filters), fanned out to hibernating WebSockets.
 *
 * `publish` (from shards) applies changes exactly once: per shard it remembers the highest outbox
 * id applied, drops anything at or below it (a re-sent batch after a shard or hub restart), and
 * gives each new change the next `seq`, all in one transaction with the bounded buffer used for
 * `since` resume. Fan-out happens after the commit; a hub that dies between the two loses its
 * sockets, and their clients resume from the buffer.
 *
 * Subscriptions arrive verified by the Worker (`db/DbRoutes.ts`) in a header it always
 * overwrites. A snapshot is read from the shards while this hub's mailbox is held, so no change is
 * applied between the snapshot and the socket joining the fan-out; changes the shards committed
 * before the snapshot but had not yet delivered are skipped for this socket by its watermarks.
 *
 * A hub lists itself in its database's directory (the directory object named by the database's
 * `namespace/name`), so the inspector can page through the hubs of partitioned tables: a report on
 * its first activity after a wake and whenever a subscriber joins or leaves, coalesced by the
 * `directory` job, never one per change (the buffered count it carries is as of that report).
 *
 * @since 0.1.0
 */
import { Clock, Effect, Either, Exit } from "effect"
import { InvalidInput, type StorageFailure } from "../../RealtimeError.js"
import { databaseDefinition, type DatabaseDefinition, type ResolvedTable } from "../Declaration.js"
import { shardId, shardOf } from "../Placement.js"
import type { ForwardedSubscription } from "../Protocol.js"
import { mergePages, type Page } from "../Query.js"
import { callActor, type ActorNamespace } from "../../internal/rpc.js"
import { Connections } from "../../sockets/Connections.js"
import { Sockets } from "../../sockets/Sockets.js"
import { DIRECTORY_JOB, DIRECTORY_REPORT_DELAY_MS, DirectoryClient } from "../../services/Directory.js"
import { Jobs } from "../../services/Jobs.js"
import { HubChangeStore } from "../../storage/HubChangeStore.js"
import { DbShardOps, TableHubOps } from "../Ops.js"
import { handler, implement } from "../../internal/Operations.js"
import { ObjectState, ActorContext, type ActorBehavior } from "../../actors/Actor.js"
import { makeHubSockets, PING, PONG } from "./HubSockets.js"
import { loadHubStream } from "./HubStream.js"
import { acceptSubscription, subscriptionFetch } from "./HubAccept.js"

export { hubMigrations } from "../../storage/HubChangeStore.js"
export { REPLAY_CHARS } from "./HubStream.js"

export const makeTableHub = Effect.gen(function* () {
  const store = yield* HubChangeStore
  const jobs = yield* Jobs
  const connections = yield* Connections
  const sockets = yield* Sockets
  const directory = yield* DirectoryClient
  const { address, config } = yield* ActorContext
  const { env } = yield* ObjectState
  const found = databaseDefinition(address.instance)
  if (found === undefined) return yield* Effect.die(new Error(`durable-realtime/db: no database "${address.instance}" is declared in this Worker`))
  const definition: DatabaseDefinition = found

  // The runtime answers the heartbeat itself, so a pinging but quiet subscriber never wakes the hub.
  sockets.answerPings(PING, PONG)

  const stream = yield* loadHubStream({ definition, store, subscribers: connections.list })

  /** Subscribers as of the last directory report; `undefined` until this wake's first report. */
  let reportedConnections: number | undefined
    const scheduleReport = Effect.flatMap(Clock.currentTimeMillis, (now) => jobs.ensure(DIRECTORY_JOB, now + DIRECTORY_REPORT_DELAY_MS))
  // A failed schedule only leaves the index stale until the next report: it must not fail the publish or subscription that triggered it.
  const reportSoon = Effect.catchAll(scheduleReport, () => Effect.void)
  const reportIfChanged = Effect.suspend(() => (reportedConnections === undefined || reportedConnections !== connections.count() ? reportSoon : Effect.void))
  const reportJob = Effect.gen(function* () {
    const now = yield* Clock.currentTimeMillis
    const subscribers = connections.count()
    yield* directory.report({ kind: "tableHub", id: address.id, messages: stream.buffered(), members: 0, connections: subscribers, destroyed: false, version: now })
    reportedConnections = subscribers
    return null
  })

  sockets.register(makeHubSockets({ config, closed: reportSoon }))

  const publish = handler(TableHubOps.publish, (input) => Effect.zipLeft(stream.apply(input), reportIfChanged))

  /**
   * `publish` without the mailbox (the host calls it only when the mailbox is idle): the shard's
   * changes are applied, buffered and fanned out in the RPC's own turn. It needs no directory report
   * to schedule (scheduling awaits the alarm); otherwise it changes nothing and answers `undefined`,
   * and the publish takes the mailbox path whole.
   */
  const publishNow = (input: unknown) => {
    const reportNeeded = reportedConnections === undefined || reportedConnections !== connections.count()
    if (reportNeeded && jobs.ensured?.(DIRECTORY_JOB, Date.now() + DIRECTORY_REPORT_DELAY_MS) !== true) return undefined
    // Checked, applied and answered without a fiber: the answer's Schema encodes to itself (an Exit already).
    const applied = Either.flatMap(TableHubOps.publish.decodePayloadEither(input), stream.applyNow)
    if (Either.isLeft(applied)) return Exit.fail(applied.left)
    const encoded = TableHubOps.publish.encodeSuccess(applied.right)
    return Exit.isExit(encoded) ? (encoded as Exit.Exit<unknown, StorageFailure>) : Effect.runSyncExit(encoded)
  }

  /** A page of the matching rows from the shards, and the outbox position of each shard read. */
  const readSnapshot = (table: ResolvedTable, subscription: ForwardedSubscription, limit: number, cursor: string | undefined) =>
    Effect.gen(function* () {
      const shards = env[definition.bindings.shards] as ActorNamespace | undefined
      if (shards === undefined) return yield* new InvalidInput({ field: "bindings.shards", message: `no Durable Object binding ${definition.bindings.shards}` })
      const required = table.realtime?.requiredFilters ?? []
      // With required filters every matching row lives in the shard of the first one's value.
      const targets = required.length > 0 ? [shardOf(subscription.filters[table.shardColumn], definition.shards)] : Array.from({ length: definition.shards }, (_, n) => n)
      const query = { where: subscription.filters, limit, ...(cursor === undefined ? {} : { cursor }) }
      const answers = yield* Effect.forEach(
        targets,
        (n) =>
          callActor(shards, "dbShard", { instance: definition.instance, id: shardId(n) }, DbShardOps.snapshot, { table: table.name, query }),
        { concurrency: "unbounded" },
      )
      const page: Page = mergePages(table, { where: subscription.filters, limit, cursor }, answers)
      const watermarks = Object.fromEntries(answers.map((answer) => [String(answer.shard), answer.watermark]))
      return { page, watermarks }
    })

  const fetch = (request: Request) =>
    subscriptionFetch(request, (subscription) => {
      const table = definition.tables.get(subscription.table)
      if (table === undefined || table.realtime === undefined) return Effect.fail(new InvalidInput({ field: "table", message: `table: ${subscription.table} is not streamed` }))
      return Effect.zipLeft(acceptSubscription({ definition, stream, sockets, readSnapshot, subscription, table }), reportSoon)
    })

  const state = handler(TableHubOps.state, () => Effect.sync(() => ({ seq: stream.seq(), connections: connections.count() })))

  return {
    operations: implement(TableHubOps, { publish, state }),
    invokeNow: { [TableHubOps.publish.name]: publishNow },
    jobs: { ...sockets.jobs, [DIRECTORY_JOB]: reportJob },
    fetch,
    // Socket events go to the layer, which routes them to this object's protocol.
    ...sockets.events,
  } satisfies ActorBehavior
})
