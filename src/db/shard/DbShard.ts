/**
 * The database shard actor: one Durable Object holding a slice of a database's tables in SQLite,
 * with the transactional outbox of their changes.
 *
 * Boot runs the database's migrations (derived from its declaration; see `db/shard/Migrations.ts`).
 * Writes run one at a time; each commits its rows and outbox rows in one transaction, then a
 * drain is started at once (outside the mailbox, one at a time) and a durable job is armed before
 * the commit as the retry path, so a change committed just before a crash is still delivered.
 * When the mailbox is idle and that job is already armed, a write runs synchronously in the RPC's
 * own turn (`writeNow`), up to the drain's first hub call; otherwise it queues in the mailbox.
 * Reads (`get`, `select`, `snapshot`) are synchronous SQLite reads and do not queue behind writes;
 * `snapshot` reads a page and the outbox position in one step, which is what makes a hub's
 * snapshot-then-changes exact.
 *
 * @since 0.1.0
 */
import { Clock, Effect, Either, Exit } from "effect"
import { InvalidInput, type RealtimeError, type StorageFailure } from "../../RealtimeError.js"
import { databaseDefinition } from "../Declaration.js"
import { planMigrations, SCHEMA_META_KEY, type SchemaSnapshot } from "./Migrations.js"
import { OUTBOX_TABLE } from "../Names.js"
import { drainAll, parkedCount, pendingCount, PRUNE_INTERVAL_MS, prunePublished, type SendToHub } from "./Outbox.js"
import { shardIndexOfId, shardName } from "../Placement.js"
import { planSelect } from "../Query.js"
import { applyBatchNow, batchLimit, decodeLocator, prepareBatch, tableOf, type DrainedChange, type WriteBatch, type WriteResult } from "../Writes.js"
import { makeStubCache } from "../../internal/ObjectStubs.js"
import { callActor, type ActorNamespace } from "../../internal/rpc.js"
import { Jobs } from "../../services/Jobs.js"
import { DIRECTORY_JOB, DIRECTORY_REPORT_DELAY_MS, DirectoryClient } from "../../services/Directory.js"
import * as Sql from "../../services/Sql.js"
import { handler, implement } from "../../internal/Operations.js"
import { DbShardOps, OutboxColumns, TableHubOps } from "../Ops.js"
import { ActorContext, ObjectState, type ActorBehavior } from "../../actors/Actor.js"
import { readMeta } from "../../storage/Meta.js"
import { HubChangeStore } from "../../storage/HubChangeStore.js"
import { Connections } from "../../sockets/Connections.js"
import { Sockets } from "../../sockets/Sockets.js"
import { makeHubSockets, PING, PONG } from "../hub/HubSockets.js"
import { makeShardStreams } from "./ShardStreams.js"
import { makeLoneInsert } from "./LoneInsert.js"
import { fitsOneSend, makeHubSends, makeOwedMarks, sendDirect } from "./DirectSend.js"

export const DRAIN_JOB = "outbox-drain"
/** When the durable retry fires if the immediate drain did not get through. */
export const DRAIN_RETRY_MS = 500

/** Operations that only read, synchronously: they run outside the mailbox. */
export const READ_OPERATIONS: ReadonlySet<string> = new Set([DbShardOps.get.name, DbShardOps.select.name, DbShardOps.snapshot.name, DbShardOps.outbox.name])


export const makeDbShard = Effect.gen(function* () {
  const sql = yield* Sql.Sql
  const jobs = yield* Jobs
  const { address, config } = yield* ActorContext
  const { env } = yield* ObjectState
  const definition = databaseDefinition(address.instance)
  if (definition === undefined) return yield* Effect.die(new Error(`durable-realtime/db: no database "${address.instance}" is declared in this Worker`))
  const shard = shardIndexOfId(address.id)
  if (!Number.isInteger(shard) || shard >= definition.shards) return yield* Effect.die(new Error(`durable-realtime/db: "${address.id}" is not a shard of ${address.instance}`))

  const applied = (yield* Effect.orDie(sql.all<{ name: string }>("SELECT name FROM _migrations"))).map((row) => row.name)
  const stored = yield* readMeta<SchemaSnapshot>(sql, SCHEMA_META_KEY)
  const plan = planMigrations(definition, applied, stored)
  if ("refused" in plan) return yield* Effect.die(new Error(`durable-realtime/db: the schema of ${definition.instance} cannot be migrated: ${plan.refused}`))
  yield* Effect.orDie(Sql.migrate(sql, plan.migrations))

  // Partitions of `streamFrom: "shard"` tables stream from here: their subscribers connect to this object.
  const sockets = yield* Sockets
  // The synchronous write and a direct send's published mark run outside any fiber: they read this Clock.
  const clock = yield* Effect.clock
  const directory = yield* DirectoryClient
  const streams = makeShardStreams({ definition, shard, sql, store: yield* HubChangeStore, connections: yield* Connections, sockets, directory })
  // Hosted partitions are listed in the database's directory as table hubs list themselves: a report
  // coalesced by the `directory` job; a failed schedule only leaves the listing stale until the next one.
  const reportSoon = Effect.catchAll(
    Effect.flatMap(Clock.currentTimeMillis, (now) => jobs.ensure(DIRECTORY_JOB, now + DIRECTORY_REPORT_DELAY_MS)),
    () => Effect.void,
  )
  const reportIfDue = Effect.suspend(() => (streams.reportDue() ? reportSoon : Effect.void))
  const reportJob = Effect.as(Effect.flatMap(Clock.currentTimeMillis, streams.report), null)
  const hostsStreams = [...definition.tables.values()].some((table) => table.realtime?.streamFrom === "shard")
  if (hostsStreams) {
    // The runtime answers the heartbeat itself, so a pinging but quiet subscriber never wakes the shard.
    sockets.answerPings(PING, PONG)
    // Always (a closing socket may still be counted here): the directory job counts again when it runs.
    sockets.register(makeHubSockets({ config, closed: Effect.zipRight(Effect.sync(streams.subscribersChanged), reportSoon) }))
  }

  // The hubs' stubs live as long as this object: a drain round does not hash a hub's name again.
  const hubStubs = makeStubCache()
  const send: SendToHub = (hubId, changes, after) => {
    // A hosted partition: applied here, in this turn (a hub's changes all belong to one table).
    if (streams.hosts(changes[0]?.table ?? "")) return streams.publish(hubId, after === undefined ? { changes } : { changes, after })
    const hubs = env[definition.bindings.hubs] as ActorNamespace | undefined
    if (hubs === undefined) return Effect.fail(new InvalidInput({ field: "bindings.hubs", message: `no Durable Object binding ${definition.bindings.hubs}` }))
    return callActor(hubs, "tableHub", { instance: definition.instance, id: hubId }, TableHubOps.publish, after === undefined ? { changes } : { changes, after }, undefined, {
      stubs: hubStubs,
      // Changes are built from the outbox's JSON (JSON.parse): plain already, no copy.
      plain: true,
    })
  }
  /** Direct sends (`DirectSend.ts`): a promise, no fiber; any failure or refusal is `false`. Through each hub's RPC session from its second publish on. */
  const hubSends = makeHubSends({ hubs: () => env[definition.bindings.hubs] as ActorNamespace | undefined, instance: definition.instance, stubs: hubStubs })
  // Direct sends' published marks ride the next turn that writes while the retry job is armed to come (DirectSend.ts).
  // Not while the retry job runs: its schedule is spent once it returns, so a mark owed then could wait for the next write.
  let drainJobRunning = false
  const marks = makeOwedMarks(sql, () => clock.unsafeCurrentTimeMillis(), () => !drainJobRunning && jobs.ensured?.(DRAIN_JOB, clock.unsafeCurrentTimeMillis() + DRAIN_RETRY_MS) === true)
  const flushMarks = Effect.sync(marks.flush)
  // Passes never overlap; within one, pipelined rounds keep each hub's order by the hub's `after` check (see Outbox.ts).
  // Owed marks first: a pass never re-sends what the hubs acknowledged.
  const drainLock = yield* Effect.makeSemaphore(1)
  const drain = drainLock.withPermits(1)(Effect.zipRight(flushMarks, drainAll(sql, definition, shard, send)))
  /** A drain outside the job: a change held back for a retry gets the job armed for its time. */
  const drainAndArm = Effect.tap(drain, (outcome) => (outcome.retryAt === undefined ? Effect.void : jobs.ensure(DRAIN_JOB, outcome.retryAt)))
  // Single flight: a write during a running drain (or direct send) only asks it to go round once more,
  // so a burst of writes becomes a few large batches instead of one queued drain per write.
  let draining = false
  let again = false
  /**
   * Whether no outbox row is pending but a direct send's own (then a write may send its changes
   * directly): known at wake, lost as soon as a change is left to the drain, found again when the
   * outbox holds no pending row while no send is in flight.
   */
  let outboxClear = false
  /** Call only while no send is in flight but the caller's own finished pass. */
  const findClear = Effect.map(Effect.orElseSucceed(Effect.zipRight(flushMarks, pendingCount(sql)), () => 1), (pending) => void (outboxClear = pending === 0 && !again))
  const drainWhileAsked: Effect.Effect<void> = Effect.suspend(() => {
    // Whether this flight released `draining` itself: the release below must never clear a later flight's.
    let released = false
    /**
     * The flight ends only if no write asked for another pass, looked at in the same step as the release:
     * a write landing between a last look and a later release (the fiber may yield in between) would
     * otherwise find `draining` set, only ask, and wait for the retry job.
     */
    const releaseUnlessAsked = Effect.sync(() => {
      if (again) return false
      draining = false
      released = true
      return true
    })
    return Effect.gen(function* () {
      for (;;) {
        let held = false
        do {
          again = false
          const outcome = yield* Effect.exit(drainAndArm)
          // A failure is left to the durable job (with its backoff); no tight retry loop here.
          if (outcome._tag === "Failure") return yield* Effect.logDebug("outbox drain deferred to the retry job", outcome.cause)
          held = outcome.value.retryAt !== undefined
        } while (again)
        // Nothing committed before the last scan is pending: hosted streams may take writes inline again.
        if (!held) streams.caughtUp()
        if (!held && !again) yield* findClear
        if (yield* releaseUnlessAsked) return
      }
    }).pipe(Effect.ensuring(Effect.sync(() => void (released || (draining = false)))))
  })
  /** Start a drain now, without holding the mailbox. */
  const kick = Effect.suspend(() => {
    outboxClear = false
    if (draining) {
      again = true
      return Effect.void
    }
    draining = true
    return Effect.asVoid(Effect.forkDaemon(drainWhileAsked))
  })

  /**
   * A committed batch's changes for the hubs: sent directly when the outbox is clear and nothing is
   * in flight, otherwise left to the drain. A direct send that is not acknowledged hands everything
   * to the drain at once (which counts attempts); a write that arrived meanwhile is drained after it.
   * Without a fiber (a write's synchronous path calls it as is): `true` when sent directly, `false`
   * when the drain must be kicked (`toHubs` kicks it).
   */
  const sentDirectly = (changes: ReadonlyArray<DrainedChange>): boolean => {
    if (!outboxClear || draining || !fitsOneSend(changes)) return false
    draining = true
    void sendDirect(changes, hubSends.send, marks)
      .catch(() => false)
      .then((published) => {
        draining = false
        if (!published || again) {
          again = false
          Effect.runFork(Effect.catchAllCause(kick, (cause) => Effect.logDebug("outbox drain deferred to the retry job", cause)))
        }
      })
    return true
  }
  const toHubs = (changes: ReadonlyArray<DrainedChange>): Effect.Effect<void> => Effect.suspend(() => (sentDirectly(changes) ? Effect.void : kick))

  /** A decoded batch checked against the declaration and placed on this shard: nothing stored yet. */
  // `drained`: the batch has changes for the drain (tables streamed by hubs, or hosted ones while a backlog is drained).
  const prepare = (batch: WriteBatch) =>
    Either.map(prepareBatch(definition, batch, shard), (prepared) => ({
      batch,
      prepared,
      drained: prepared.some((write) => write.table.realtime !== undefined && !streams.inline.takes(write.table)),
    }))
  /**
   * Commit a prepared batch with its outbox rows: one synchronous SQLite transaction, which also
   * buffers the changes of hosted streams; `delivered` fans those out once it committed.
   */
  const commit = ({ batch, prepared }: Either.Either.Right<ReturnType<typeof prepare>>, now: number) => {
    // In the write's own turn, so in its commit: no commit of their own for the marks owed.
    marks.flush()
    return applyBatchNow(sql, prepared, { shard, requestId: batch.requestId ?? crypto.randomUUID(), now, maxRowBytes: definition.maxRowBytes, maxBatchBytes: batchLimit(definition), inline: streams.inline })
  }

  /** A lone insert into a realtime table, straight through (`LoneInsert.ts`); `undefined` leaves the write to `prepare` + `commit`. */
  const loneInsert = makeLoneInsert({
    definition,
    shard,
    sql,
    takes: streams.inline.takes,
    streamFor: streams.streamFor,
    subscribersOf: streams.subscribersOf,
    beforeCommit: marks.flush,
    drainArmed: (now) => jobs.ensured?.(DRAIN_JOB, now + DRAIN_RETRY_MS) === true,
    toHubs: (changes) => {
      // Sent directly in this turn when nothing is in flight; otherwise the drain (a failure there is the retry job's).
      if (!sentDirectly(changes)) Effect.runSync(Effect.catchAllCause(kick, (cause) => Effect.logDebug("outbox drain deferred to the retry job", cause)))
    },
  })
  const newRequestId = () => crypto.randomUUID()

  const write = handler(DbShardOps.write, (batch) =>
    Effect.gen(function* () {
      const ready = yield* prepare(batch)
      const now = yield* Clock.currentTimeMillis
      // Armed before the commit: if the object dies right after committing, the alarm still drains.
      if (ready.drained) yield* jobs.ensure(DRAIN_JOB, now + DRAIN_RETRY_MS)
      const { results, delivered, drained } = yield* commit(ready, now)
      delivered()
      if (ready.drained) yield* toHubs(drained)
      yield* reportIfDue
      return results
    }),
  )

  /**
   * `write` without the mailbox (the host calls it only when the mailbox is idle): decode, check,
   * commit and start the drain in this one synchronous turn — the drain sends the change to its hub
   * before the write's answer leaves, instead of a fiber hop later. It needs the retry job already
   * armed early enough (arming it awaits the alarm); otherwise it changes nothing and answers
   * `undefined`, and the write takes the mailbox path whole. Time is the shard's `Clock`, read
   * unsafely: this path runs outside any fiber.
   */
  const writeNow = (input: unknown) => {
    const lone = loneInsert(input, clock.unsafeCurrentTimeMillis(), newRequestId)
    if (lone !== undefined) {
      if (streams.reportDue() && jobs.ensured?.(DIRECTORY_JOB, clock.unsafeCurrentTimeMillis() + DIRECTORY_REPORT_DELAY_MS) !== true) Effect.runFork(reportSoon)
      return answerOf(lone)
    }
    const decoded = Either.flatMap(DbShardOps.write.decodePayloadEither(input), prepare)
    // A refused batch is answered here: nothing was stored, exactly as the mailbox path answers it.
    if (Either.isLeft(decoded)) return Exit.fail(decoded.left)
    const now = clock.unsafeCurrentTimeMillis()
    if (decoded.right.drained && jobs.ensured?.(DRAIN_JOB, now + DRAIN_RETRY_MS) !== true) return undefined
    const committed = commit(decoded.right, now)
    if (Either.isLeft(committed)) return Exit.fail(committed.left)
    // Committed: hosted streams' subscribers get the changes now, in this turn.
    committed.right.delivered()
    // A hosted partition first used since the wake gets listed; scheduling awaits the alarm, so it runs on its own.
    if (streams.reportDue() && jobs.ensured?.(DIRECTORY_JOB, now + DIRECTORY_REPORT_DELAY_MS) !== true) Effect.runFork(reportSoon)
    if (decoded.right.drained) {
      // Runs the drain synchronously up to its first hub call; a failure there is the retry job's.
      if (!sentDirectly(committed.right.drained)) Effect.runSync(Effect.catchAllCause(kick, (cause) => Effect.logDebug("outbox drain deferred to the retry job", cause)))
    }
    return answerOf(committed.right.results)
  }
  /** An answer that encodes to itself is already an Exit: no run needed. */
  const answerOf = (results: ReadonlyArray<WriteResult>): Exit.Exit<unknown, RealtimeError> => {
    const encoded = DbShardOps.write.encodeSuccess(results)
    return Exit.isExit(encoded) ? (encoded as Exit.Exit<unknown, StorageFailure>) : Effect.runSyncExit(encoded)
  }

  const get = handler(DbShardOps.get, (input) =>
    Effect.gen(function* () {
      const table = yield* tableOf(definition, input.table)
      const where = yield* decodeLocator(definition, table, input.where)
      const planned = yield* planSelect(table, { where: where as Record<string, string | number | boolean | null>, limit: 1 })
      const page = yield* Effect.orDie(Effect.map(sql.all(planned.sql, ...planned.params), planned.toPage))
      return page.rows[0] ?? null
    }),
  )

  const select = handler(DbShardOps.select, (input) =>
    Effect.gen(function* () {
      const table = yield* tableOf(definition, input.table)
      const planned = yield* planSelect(table, input.query)
      return yield* Effect.orDie(Effect.map(sql.all(planned.sql, ...planned.params), planned.toPage))
    }),
  )

  /** A page and the outbox position it reflects, read in one synchronous transaction. */
  const snapshot = handler(DbShardOps.snapshot, (input) =>
    Effect.gen(function* () {
      const table = yield* tableOf(definition, input.table)
      const planned = yield* planSelect(table, input.query)
      return yield* Effect.orDie(
        sql.transaction((exec) => {
          const raw = exec(planned.sql, ...planned.params)
          const watermark = exec<{ id: number | null }>(`SELECT MAX(id) AS id FROM ${OUTBOX_TABLE}`)[0]?.id ?? 0
          return { ...planned.toPage(raw), shard, watermark }
        }),
      )
    }),
  )

  /** The outbox as it stands (for operators and tests): pending and parked counts, the last rows, the parked ones. */
  const outbox = handler(DbShardOps.outbox, (input) =>
    Effect.orDie(
      Effect.gen(function* () {
        // What the hubs acknowledged is published: the marks owed are stored before counting.
        yield* flushMarks
        const columns = "id, table_name, event, row_key, request_id, created_at, published_at, size, attempts, retry_at, parked_at, error"
        return {
          shard: shardName(shard),
          pending: yield* pendingCount(sql),
          parked: yield* parkedCount(sql),
          rows: yield* sql.all<Sql.Row & typeof OutboxColumns.Type>(`SELECT ${columns} FROM ${OUTBOX_TABLE} ORDER BY id DESC LIMIT ?`, input.limit),
          parkedRows: yield* sql.all<Sql.Row & typeof OutboxColumns.Type>(`SELECT ${columns} FROM ${OUTBOX_TABLE} WHERE parked_at IS NOT NULL ORDER BY id DESC LIMIT ?`, input.limit),
        }
      }),
    ),
  )

  /** When this object last pruned its published rows (0: not since it woke). */
  let prunedAt = 0
  const drainJob = Effect.gen(function* () {
    drainJobRunning = true
    const outcome = yield* drain
    // Nothing pending: the hubs' sessions close until the next write (DirectSend.makeHubSends).
    if (outcome.retryAt === undefined) hubSends.pause()
    if (outcome.retryAt === undefined && !draining) {
      streams.caughtUp()
      yield* findClear
    }
    const now = yield* Clock.currentTimeMillis
    if (now - prunedAt >= PRUNE_INTERVAL_MS) {
      yield* prunePublished(sql)
      prunedAt = now
    }
    // Come back when the earliest held-back change may be retried.
    return outcome.retryAt ?? null
  }).pipe(Effect.ensuring(Effect.sync(() => void (drainJobRunning = false))))

  const onWake = Effect.gen(function* () {
    // Changes committed before a restart are sent as soon as the object is back; hosted streams
    // take no write inline until they are (a change of theirs may be among them: order first).
    if ((yield* Effect.orDie(pendingCount(sql))) > 0) {
      streams.backlogged()
      yield* kick
    } else outboxClear = true
  })

  /** A hosted partition's position and subscribers, as a table hub's `state` answers them. */
  const streamState = handler(DbShardOps.streamState, (input) => streams.state(input.hub))

  return {
    operations: implement(DbShardOps, { write, get, select, snapshot, outbox, streamState }),
    invokeNow: { [DbShardOps.write.name]: writeNow },
    jobs: { ...sockets.jobs, [DRAIN_JOB]: drainJob, [DIRECTORY_JOB]: reportJob },
    onWake,
    // Subscriptions of hosted partitions, accepted while no drain runs (no change applied between snapshot and join).
    fetch: (request: Request) => Effect.zipLeft(streams.fetch(request, drainLock.withPermits(1)), reportIfDue),
    ...sockets.events,
  } satisfies ActorBehavior
})
