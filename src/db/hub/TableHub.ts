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
import { Clock, Effect, Schema } from "effect"
import { InvalidInput, Unauthorized, toResponse, type RealtimeError } from "../../RealtimeError.js"
import { deliveryFor, frameCache, gapFrameFor, type Subscriber } from "./Changes.js"
import { databaseDefinition, type DatabaseDefinition, type ResolvedTable } from "../Declaration.js"
import { DB_SUBPROTOCOL } from "../Names.js"
import { shardId, shardOf } from "../Placement.js"
import { ForwardedSubscription, ShardChange, SubscriptionHeader } from "../Protocol.js"
import { mergePages, type Page } from "../Query.js"
import { callActor, type ActorNamespace } from "../../internal/rpc.js"
import { sendFrame } from "../../sockets/CloseCodes.js"
import { Connections } from "../../sockets/Connections.js"
import { DEFAULT_PROTOCOL, Sockets } from "../../sockets/Sockets.js"
import { DIRECTORY_JOB, DIRECTORY_REPORT_DELAY_MS, DirectoryClient } from "../../services/Directory.js"
import { Jobs } from "../../services/Jobs.js"
import { HubChangeStore, type BufferedChange } from "../../storage/HubChangeStore.js"
import { DbShardOps, TableHubOps } from "../Ops.js"
import { handler, implement } from "../../internal/Operations.js"
import { ObjectState, ActorContext, type ActorBehavior } from "../../actors/Actor.js"
import { encodeDbFrame as encode, makeHubSockets, PING, PONG, subscriberOf, type SubscriberData } from "./HubSockets.js"

export { hubMigrations } from "../../storage/HubChangeStore.js"

/** Characters of buffered changes a `since` resume may replay; further behind gets `resync`. */
export const REPLAY_CHARS = 16 * 1024 * 1024


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

  const buffered = yield* Effect.orDie(store.load)
  let seq = buffered.lastSeq ?? 0
  /** The buffer in memory: its first seq and its characters, so a publish trims without scanning it. */
  let firstBuffered = buffered.firstSeq ?? seq + 1
  let bufferedChars = buffered.chars
  /**
   * Per shard, the highest outbox id applied: the buffer's own, or the trimmed high water the store
   * keeps (written only when a trim removes a shard's changes, not once per publish).
   */
  const highWater = new Map<number, number>()
  for (const row of buffered.highWater) highWater.set(row.shard, row.outboxId)

  /** Subscribers as of the last directory report; `undefined` until this wake's first report. */
  let reportedConnections: number | undefined
  const bufferedCount = () => (seq === 0 ? 0 : seq - firstBuffered + 1)
  const scheduleReport = Effect.flatMap(Clock.currentTimeMillis, (now) => jobs.ensure(DIRECTORY_JOB, now + DIRECTORY_REPORT_DELAY_MS))
  // A failed schedule only leaves the index stale until the next report: it must not fail the publish or subscription that triggered it.
  const reportSoon = Effect.catchAll(scheduleReport, () => Effect.void)
  const reportIfChanged = Effect.suspend(() => (reportedConnections === undefined || reportedConnections !== connections.count() ? reportSoon : Effect.void))
  const reportJob = Effect.gen(function* () {
    const now = yield* Clock.currentTimeMillis
    const subscribers = connections.count()
    yield* directory.report({ kind: "tableHub", id: address.id, messages: bufferedCount(), members: 0, connections: subscribers, destroyed: false, version: now })
    reportedConnections = subscribers
    return null
  })

  sockets.register(makeHubSockets({ config, closed: reportSoon }))

  const fanOut = (applied: ReadonlyArray<{ readonly seq: number; readonly change: ShardChange }>) => {
    const open = connections.list()
    if (open.length === 0) return
    for (const { seq: at, change } of applied) {
      const frameOf = frameCache(definition, change, at)
      for (const entry of open) {
        const subscriber = subscriberOf(entry.attachment)
        if (subscriber === null) continue
        if (change.parked === true) {
          const gap = gapFrameFor(change, at, subscriber)
          if (gap !== undefined) sendFrame(entry.socket, gap)
          continue
        }
        const delivery = deliveryFor(change, subscriber)
        if (delivery !== undefined) sendFrame(entry.socket, frameOf(delivery))
      }
    }
  }

  /** A publish applied: each change once, buffered (one synchronous SQLite transaction), fanned out. */
  const applyPublished = (input: typeof TableHubOps.publish.payload.Type) =>
    Effect.gen(function* () {
      const from = input.changes[0]?.shard
      if (input.after !== undefined && from !== undefined && (highWater.get(from) ?? 0) < input.after) {
        // A pipelined batch whose predecessor was not applied (it failed): applying it would skip that one.
        return yield* new InvalidInput({ field: "after", message: `after: outbox ${input.after} of shard ${from} is not applied here yet; resend in order` })
      }
      let duplicates = 0
      let first = firstBuffered
      let chars = bufferedChars
      const seen = new Map<number, number>()
      const applied: Array<{ seq: number; change: ShardChange }> = []
      const rows: Array<BufferedChange> = []
      let next = seq
      for (const change of input.changes) {
        const last = seen.get(change.shard) ?? highWater.get(change.shard) ?? 0
        if (change.outboxId <= last) {
          duplicates++
          continue
        }
        next++
        const json = JSON.stringify(change)
        rows.push({ seq: next, shard: change.shard, outboxId: change.outboxId, change: json })
        seen.set(change.shard, change.outboxId)
        chars += json.length
        applied.push({ seq: next, change })
      }
      if (rows.length > 0) {
        // The buffer keeps the newest changes for resume, bounded in count (`bufferSize`) and in characters (`bufferBytes`).
        const byCount = next - definition.bufferSize
        const trimmed = yield* store.append(rows, {
          through: byCount >= first ? byCount : 0,
          // Only when over: finding where the budget is passed reads the buffer's sizes.
          maxChars: chars > definition.bufferBytes ? definition.bufferBytes : undefined,
        })
        if (trimmed.through !== undefined) {
          chars -= trimmed.chars
          first = trimmed.through + 1
        }
      }
      // Committed: the in-memory view follows (a failed transaction leaves it as it was).
      for (const [shard, outboxId] of seen) highWater.set(shard, outboxId)
      if (applied.length > 0) {
        seq = applied[applied.length - 1].seq
        firstBuffered = first
        bufferedChars = chars
      }
      fanOut(applied)
      return { applied: applied.length, duplicates, seq }
    })

  const publish = handler(TableHubOps.publish, (input) => Effect.zipLeft(applyPublished(input), reportIfChanged))

  /**
   * `publish` without the mailbox (the host calls it only when the mailbox is idle): the shard's
   * changes are applied, buffered and fanned out in the RPC's own turn. It needs no directory report
   * to schedule (scheduling awaits the alarm); otherwise it changes nothing and answers `undefined`,
   * and the publish takes the mailbox path whole.
   */
  const publishNow = (input: unknown) => {
    const reportNeeded = reportedConnections === undefined || reportedConnections !== connections.count()
    if (reportNeeded && jobs.ensured?.(DIRECTORY_JOB, Date.now() + DIRECTORY_REPORT_DELAY_MS) !== true) return undefined
    return Effect.runSyncExit(TableHubOps.publish.decodePayload(input).pipe(Effect.flatMap(applyPublished), Effect.flatMap(TableHubOps.publish.encodeSuccess)))
  }

  /** Buffered changes after `since`, or the reason they cannot all be replayed. */
  const replay = (since: number) =>
    Effect.gen(function* () {
      if (since > seq) return { resync: "ahead" as const, changes: [] }
      // A replay is sent before ready, in one go: bounded like every batch (1 MB rows make a 1,000-change buffer large).
      const chars = yield* Effect.orDie(store.charsAfter(since))
      if (chars > REPLAY_CHARS) return { resync: "behind" as const, changes: [] }
      const rows = yield* Effect.orDie(store.after(since))
      if (since < seq && (rows.length === 0 || rows[0].seq !== since + 1)) return { resync: "behind" as const, changes: [] }
      return { resync: undefined, changes: rows.map((row) => ({ seq: row.seq, change: JSON.parse(row.change) as ShardChange })) }
    })

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

  const accept = (subscription: ForwardedSubscription): Effect.Effect<Response, RealtimeError> =>
    Effect.gen(function* () {
      const table = definition.tables.get(subscription.table)
      if (table === undefined || table.realtime === undefined) return yield* new InvalidInput({ field: "table", message: `table: ${subscription.table} is not streamed` })
      const frames: Array<string> = []
      let watermarks: Record<string, number> | undefined
      let replayed = 0
      let resumed = false
      if (subscription.snapshot !== undefined) {
        const snap = yield* readSnapshot(table, subscription, subscription.snapshot.limit, subscription.snapshot.cursor)
        watermarks = snap.watermarks
        frames.push(encode({ type: "database.snapshot", table: table.name, rows: snap.page.rows, nextCursor: snap.page.nextCursor }))
      } else if (subscription.since !== undefined) {
        const plan = yield* replay(subscription.since)
        if (plan.resync !== undefined) {
          frames.push(encode({ type: "resync", reason: plan.resync, seq, message: plan.resync === "behind" ? `changes after seq ${subscription.since} are no longer buffered; take a new snapshot` : `seq ${subscription.since} is ahead of this stream (${seq}); take a new snapshot` }))
        } else {
          resumed = true
          const subscriber: Subscriber = subscription
          for (const { seq: at, change } of plan.changes) {
            const gap = gapFrameFor(change, at, subscriber)
            if (gap !== undefined) {
              frames.push(gap)
              replayed++
              continue
            }
            const delivery = deliveryFor(change, subscriber)
            if (delivery === undefined) continue
            frames.push(frameCache(definition, change, at)(delivery))
            replayed++
          }
        }
      }
      const connectionId = crypto.randomUUID()
      const data: SubscriberData = { filters: subscription.filters, events: subscription.events, ...(watermarks === undefined ? {} : { watermarks }) }
      // The layer arms its grant-expiry job for a subscriber whose grant expires (public tables' never do).
      const { server, response } = yield* sockets.accept({
        protocol: DEFAULT_PROTOCOL,
        attachment: {
          connectionId,
          member: `${subscription.actor.type}:${subscription.actor.id}`,
          ...(subscription.expiresAt === null ? {} : { expiresAt: subscription.expiresAt }),
          data,
        },
        ...(subscription.subprotocol ? { subprotocol: DB_SUBPROTOCOL } : {}),
      })
      for (const frame of frames) server.send(frame)
      server.send(
        encode({
          type: "ready",
          connectionId,
          namespace: definition.namespace,
          database: definition.name,
          table: table.name,
          seq,
          resumed,
          replayed,
          snapshot: subscription.snapshot !== undefined,
          filters: subscription.filters,
          events: subscription.events,
          expiresAt: subscription.expiresAt,
          ...(subscription.expiresAt === null ? {} : { actor: subscription.actorMetadata ?? subscription.actor }),
        }),
      )
      yield* reportSoon
      return response
    })

  const fetch = (request: Request): Effect.Effect<Response> =>
    Effect.gen(function* () {
      const raw = request.headers.get(SubscriptionHeader)
      const decoded = raw === null ? undefined : Schema.decodeUnknownEither(Schema.parseJson(ForwardedSubscription))(raw)
      if (decoded === undefined || decoded._tag === "Left") return toResponse(new Unauthorized({ reason: "missing", message: "no verified subscription" }))
      const subscription = decoded.right
      if (subscription.expiresAt !== null && subscription.expiresAt <= (yield* Clock.currentTimeMillis)) {
        return toResponse(new Unauthorized({ reason: "expired", message: "grant expired" }))
      }
      if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
        return toResponse(new InvalidInput({ field: "upgrade", message: "upgrade: expected a WebSocket upgrade" }))
      }
      return yield* Effect.catchAll(accept(subscription), (error) => Effect.succeed(toResponse(error)))
    }).pipe(Effect.catchAllCause((cause) => Effect.succeed(new Response(`durable-realtime: ${String(cause).slice(0, 200)}`, { status: 500 }))))

  const state = handler(TableHubOps.state, () => Effect.sync(() => ({ seq, connections: connections.count() })))

  return {
    operations: implement(TableHubOps, { publish, state }),
    invokeNow: { [TableHubOps.publish.name]: publishNow },
    jobs: { ...sockets.jobs, [DIRECTORY_JOB]: reportJob },
    fetch,
    // Socket events go to the layer, which routes them to this object's protocol.
    ...sockets.events,
  } satisfies ActorBehavior
})
