/**
 * Draining a shard's outbox to the table hubs: bounded, in order per hub, one hub's failure
 * delaying only that hub.
 *
 * - **Bounded.** A pass reads pending rows' metadata (target hubs, image size: columns written
 *   with the change) and loads images for at most `DRAIN_BATCH` rows and `ROUND_CHARS` characters
 *   per round. Each hub gets its changes in RPCs of at most `SEND_CHARS` characters (the V8
 *   serializer writes a character in at most 2 bytes: ≤ 8 MiB of the runtime's 32 MiB limit); a
 *   change larger than that goes alone (rows are bounded by `maxRowBytes` ≤ 8 MiB at write time).
 * - **Ordered per hub.** Each hub receives a shard's changes in outbox id order: a hub's changes
 *   go in sequence, and once a change of a hub is held back, nothing later of that hub is sent in
 *   the same pass. A change goes to one hub, or to two for an update that moves it between
 *   partitions; it is marked `published_at` when every hub it targets acknowledged it.
 * - **Isolated.** A hub that fails is skipped for the rest of the pass (other hubs keep flowing)
 *   and retried at the failing change's `retry_at` (backoff from 500 ms doubling, capped at 30 s).
 *   When a batch of several changes fails, they are sent one by one to find the change that fails.
 * - **Never retried forever.** A change that fails alone `deliveryAttempts` times is parked: kept
 *   (images and last error stay in the outbox, `parked_at` set, never pruned), counted in
 *   `outbox(...)`, logged with its id, and replaced in the hub's stream by a gap marker, so the
 *   hub's later changes continue and its subscribers get a `resync` frame saying to resynchronise.
 *
 * - **Pipelined.** Within a pass, the next round is read and sent while up to `ROUNDS_IN_FLIGHT`
 *   earlier rounds await their hubs; rows in flight are skipped by later scans, and each round marks
 *   its own rows published. A batch sent while an earlier one to the same hub may be in flight
 *   carries `after` (that hub's last id sent), and the hub refuses it unless it applied that id:
 *   a pipelined batch never overtakes a failed one (the refusal counts no attempt; the hub waits for
 *   the next pass, armed at once).
 *
 * Passes of one shard never overlap (the caller holds a one-permit lock). Hubs drop outbox ids
 * they already applied, so a change re-sent after a partial failure is applied once.
 *
 * @since 0.1.0
 */
import { Clock, Effect, Fiber } from "effect"
import type { RealtimeError } from "../../RealtimeError.js"
import type { SqlShape } from "../../services/Sql.js"
import type { DatabaseDefinition } from "../Declaration.js"
import { OUTBOX_TABLE } from "../Names.js"
import { hubIdOf } from "../Placement.js"
import type { ShardChange } from "../Protocol.js"
import type { DbRow } from "../Rows.js"

/** Rows whose images are loaded per round. */
export const DRAIN_BATCH = 200
/** Characters of row images loaded per round. */
export const ROUND_CHARS = 8 * 1024 * 1024
/** Characters of row images per RPC to one hub. */
export const SEND_CHARS = 4 * 1024 * 1024
/** Characters of row images one hub may take of a round, so one large tenant leaves room for the others. */
export const HUB_ROUND_CHARS = 4 * 1024 * 1024
/** Pending rows' metadata read per step while looking past held-back hubs. */
const SCAN = 500
/** Published rows are kept this long (for inspection), then pruned by the drain job. */
export const PUBLISHED_RETENTION_MS = 10 * 60_000
/**
 * How often the drain job prunes: the prune reads every retained row (`published_at` has no index),
 * and while writes flow the job runs every `DRAIN_RETRY_MS`; a stream of 100 writes/s retains
 * ~60,000 rows. So rows are kept 10 to 11 minutes.
 */
export const PRUNE_INTERVAL_MS = 60_000
/** Delay before retrying a change after its n-th failed attempt: 500 ms doubling, at most 30 s. */
export const retryDelay = (attempts: number) => Math.min(30_000, 500 * 2 ** Math.max(0, attempts - 1))

/**
 * Send changes to a hub. `after`: the last outbox id sent to that hub before these in this pass,
 * while that send may still be in flight; the hub refuses the batch (`InvalidInput` on `after`)
 * unless it has applied that id, so a pipelined batch never overtakes a failed one.
 */
export type SendToHub = (hubId: string, changes: ReadonlyArray<ShardChange>, after?: number) => Effect.Effect<unknown, RealtimeError>

/** Rounds of one pass in flight at once: the next round is read and sent while earlier ones await their hubs. */
export const ROUNDS_IN_FLIGHT = 4

const outOfOrder = (error: RealtimeError) => error._tag === "InvalidInput" && error.field === "after"

interface Pending {
  readonly id: number
  readonly hubs: string | null
  readonly size: number
  readonly attempts: number
  readonly retry_at: number | null
  readonly parked_at: number | null
  readonly [column: string]: string | number | null
}

interface Loaded {
  readonly id: number
  readonly table_name: string
  readonly event: string
  readonly old_row: string | null
  readonly new_row: string | null
  readonly request_id: string
  readonly created_at: number
  readonly [column: string]: string | number | null
}

export interface DrainOutcome {
  readonly published: number
  readonly parked: number
  /** When the earliest held-back change may be retried; `undefined` when nothing is held back. */
  readonly retryAt: number | undefined
}

export const pendingCount = (sql: SqlShape) =>
  Effect.map(sql.one<{ n: number }>(`SELECT COUNT(*) AS n FROM ${OUTBOX_TABLE} WHERE published_at IS NULL`), (row) => row?.n ?? 0)

export const parkedCount = (sql: SqlShape) =>
  Effect.map(sql.one<{ n: number }>(`SELECT COUNT(*) AS n FROM ${OUTBOX_TABLE} WHERE parked_at IS NOT NULL`), (row) => row?.n ?? 0)

const parseImage = (json: string | null) => (json === null ? null : (JSON.parse(json) as DbRow))

/** Hubs of a row written before the `hubs` column existed: read from its images. */
const legacyHubs = (sql: SqlShape, definition: DatabaseDefinition, id: number) =>
  Effect.map(sql.one<Loaded>(`SELECT table_name, old_row, new_row FROM ${OUTBOX_TABLE} WHERE id = ?`, id), (row) => {
    const table = row === undefined ? undefined : definition.tables.get(row.table_name)
    if (row === undefined || table === undefined) return []
    const images = [parseImage(row.old_row), parseImage(row.new_row)].filter((image): image is DbRow => image !== null)
    return [...new Set(images.map((image) => hubIdOf(table, image)))]
  })

/** One change (or its gap marker) queued for one hub. */
interface Item {
  readonly row: Pending
  readonly change: ShardChange
  readonly chars: number
}

/** Split a hub's queue into RPCs of at most SEND_CHARS characters (at least one change each). */
const chunksOf = (items: ReadonlyArray<Item>): ReadonlyArray<ReadonlyArray<Item>> => {
  const chunks: Array<Array<Item>> = []
  let current: Array<Item> = []
  let chars = 0
  for (const item of items) {
    if (current.length > 0 && chars + item.chars > SEND_CHARS) {
      chunks.push(current)
      current = []
      chars = 0
    }
    current.push(item)
    chars += item.chars
  }
  if (current.length > 0) chunks.push(current)
  return chunks
}

const markerOf = (change: ShardChange): ShardChange => ({ ...change, old: null, new: null, parked: true })

/** Drain until nothing more can be sent now. Fails only when the shard's own storage fails. */
export const drainAll = (sql: SqlShape, definition: DatabaseDefinition, shard: number, send: SendToHub) =>
  Effect.gen(function* () {
    const now = yield* Clock.currentTimeMillis
    // Hubs held back in this pass: nothing more of theirs is sent, so their order holds.
    const held = new Set<string>()
    let retryAt: number | undefined
    let published = 0
    let parked = 0
    let from = 0
    const holdUntil = (hubs: ReadonlyArray<string>, at: number) => {
      for (const hub of hubs) held.add(hub)
      retryAt = retryAt === undefined ? at : Math.min(retryAt, at)
    }
    // Pipelining: rows sent and not yet settled, the last id sent to each hub, the rounds in flight.
    const inFlight = new Set<number>()
    const lastSent = new Map<string, number>()
    const rounds: Array<Fiber.Fiber<void, RealtimeError>> = []

    for (;;) {
      const scanned = yield* sql.all<Pending>(
        `SELECT id, hubs, CASE WHEN size > 0 THEN size ELSE COALESCE(length(old_row), 0) + COALESCE(length(new_row), 0) END AS size, attempts, retry_at, parked_at
         FROM ${OUTBOX_TABLE} WHERE published_at IS NULL AND id > ? ORDER BY id LIMIT ?`,
        from,
        SCAN,
      )
      if (scanned.length === 0) break
      const chosen: Array<{ readonly row: Pending; readonly hubs: ReadonlyArray<string> }> = []
      let chars = 0
      // Per hub this round: a hub over HUB_ROUND_CHARS waits for the next round (with everything
      // after it, to keep its order), so other hubs' changes further on go out in this one.
      const hubChars = new Map<string, number>()
      const deferred = new Set<string>()
      // Whether this round takes every pending row the scan saw (none held back, deferred or left for the next round).
      let whole = true
      for (const row of scanned) {
        if (inFlight.has(row.id)) continue
        const hubs = row.hubs === null ? yield* legacyHubs(sql, definition, row.id) : (JSON.parse(row.hubs) as ReadonlyArray<string>)
        if (hubs.some((hub) => deferred.has(hub))) {
          for (const hub of hubs) deferred.add(hub)
          whole = false
          continue
        }
        if (hubs.some((hub) => held.has(hub))) {
          for (const hub of hubs) held.add(hub)
          whole = false
          continue
        }
        if (row.retry_at !== null && row.retry_at > now) {
          holdUntil(hubs, row.retry_at)
          whole = false
          continue
        }
        const cost = row.parked_at === null ? row.size : 0
        if (chosen.length > 0 && (chosen.length >= DRAIN_BATCH || chars + cost > ROUND_CHARS)) {
          whole = false
          break
        }
        if (hubs.some((hub) => (hubChars.get(hub) ?? 0) > 0 && (hubChars.get(hub) ?? 0) + cost > HUB_ROUND_CHARS)) {
          for (const hub of hubs) deferred.add(hub)
          whole = false
          continue
        }
        chosen.push({ row, hubs })
        chars += cost
        for (const hub of hubs) hubChars.set(hub, (hubChars.get(hub) ?? 0) + cost)
      }
      if (chosen.length === 0) {
        if (scanned.length < SCAN) {
          // Nothing new to send: wait for the oldest round in flight, then look again.
          const oldest = rounds.shift()
          if (oldest === undefined) break
          yield* Fiber.join(oldest)
          continue
        }
        from = scanned[scanned.length - 1].id
        continue
      }
      // Everything before the first chosen row is held back: later steps start after it.
      from = Math.max(from, chosen[0].row.id - 1)

      const loaded = new Map<number, Loaded>()
      for (const row of yield* sql.all<Loaded>(
        `SELECT id, table_name, event, CASE WHEN parked_at IS NULL THEN old_row END AS old_row, CASE WHEN parked_at IS NULL THEN new_row END AS new_row, request_id, created_at
         FROM ${OUTBOX_TABLE} WHERE id IN (SELECT value FROM json_each(?))`,
        // One JSON parameter, not one per id: SQLite in a Durable Object binds at most 100 parameters.
        JSON.stringify(chosen.map(({ row }) => row.id)),
      )) {
        loaded.set(row.id, row)
      }
      const queues = new Map<string, Array<Item>>()
      for (const { row, hubs } of chosen) {
        const data = loaded.get(row.id)!
        const change: ShardChange = {
          shard,
          outboxId: row.id,
          table: data.table_name,
          event: data.event as ShardChange["event"],
          old: parseImage(data.old_row),
          new: parseImage(data.new_row),
          requestId: data.request_id,
          createdAt: data.created_at,
          ...(row.parked_at === null ? {} : { parked: true as const }),
        }
        // A table removed from the declaration has no hubs: nobody can subscribe to it any more.
        if (!definition.tables.has(data.table_name)) continue
        for (const hub of hubs) {
          const queue = queues.get(hub)
          const item = { row, change, chars: row.parked_at === null ? row.size : 0 }
          if (queue === undefined) queues.set(hub, [item])
          else queue.push(item)
        }
      }

      /** Send one hub's queue in order; returns the ids it acknowledged. Stops at the first change held back. */
      const deliver = (hub: string, queue: ReadonlyArray<Item>, after: number | undefined) =>
        Effect.gen(function* () {
          const acknowledged: Array<number> = []
          // Until one send of this queue is applied, each carries `after` (an earlier round to this hub may still fail).
          let guard = after
          let refused = false
          const sendTo = (changes: ReadonlyArray<ShardChange>) =>
            Effect.tap(Effect.either(send(hub, changes, guard)), (outcome) =>
              Effect.sync(() => {
                if (outcome._tag === "Right") guard = undefined
                else if (outOfOrder(outcome.left)) {
                  // The earlier round failed: this one waits for the next pass (no attempt counted), soon.
                  refused = true
                  holdUntil([hub], now)
                }
              }),
            )
          const sendOne = (item: Item): Effect.Effect<boolean> =>
            Effect.gen(function* () {
              const outcome = yield* sendTo([item.change])
              if (outcome._tag === "Right") return true
              if (refused) return false
              const attempts = item.row.attempts + 1
              const error = outcome.left.message.slice(0, 500)
              if (item.change.parked === true || attempts < definition.deliveryAttempts) {
                // A parked change's marker is retried on its own backoff; an ordinary change until its budget is spent.
                const at = now + retryDelay(item.change.parked === true ? attempts - definition.deliveryAttempts : attempts)
                yield* Effect.orDie(sql.run(`UPDATE ${OUTBOX_TABLE} SET attempts = ?, retry_at = ?, error = ? WHERE id = ?`, attempts, at, error, item.row.id))
                holdUntil([hub], at)
                return false
              }
              yield* Effect.orDie(sql.run(`UPDATE ${OUTBOX_TABLE} SET attempts = ?, parked_at = ?, retry_at = NULL, error = ? WHERE id = ?`, attempts, now, error, item.row.id))
              parked++
              yield* Effect.logWarning(`durable-realtime/db: outbox change ${item.row.id} of ${definition.instance} shard ${shard} (${item.change.table}) parked after ${attempts} attempts: ${error}`)
              return yield* sendOne({ row: { ...item.row, attempts, parked_at: now }, change: markerOf(item.change), chars: 0 })
            })
          for (const chunk of chunksOf(queue)) {
            const whole = chunk.length > 1 ? yield* sendTo(chunk.map((item) => item.change)) : undefined
            if (whole?._tag === "Right") {
              for (const item of chunk) acknowledged.push(item.row.id)
              continue
            }
            if (refused) return acknowledged
            // One by one: find the change that fails, deliver the ones before it.
            for (const item of chunk) {
              if (!(yield* sendOne(item))) return acknowledged
              acknowledged.push(item.row.id)
            }
          }
          return acknowledged
        })

      const afterOf = new Map<string, number | undefined>()
      for (const [hub, queue] of queues) {
        afterOf.set(hub, lastSent.get(hub))
        lastSent.set(hub, queue[queue.length - 1].row.id)
      }
      const round = Effect.gen(function* () {
        const outcomes = yield* Effect.forEach([...queues.entries()], ([hub, queue]) => Effect.map(deliver(hub, queue, afterOf.get(hub)), (ids) => [hub, new Set(ids)] as const), {
          concurrency: "unbounded",
        })
        const acknowledgedBy = new Map(outcomes)
        const done = chosen
          .filter(({ row, hubs }) => !loaded.has(row.id) || !definition.tables.has(loaded.get(row.id)!.table_name) || hubs.every((hub) => acknowledgedBy.get(hub)?.has(row.id) === true))
          .map(({ row }) => row.id)
        if (done.length > 0) {
          const at = yield* Clock.currentTimeMillis
          yield* sql.run(`UPDATE ${OUTBOX_TABLE} SET published_at = ?, retry_at = NULL WHERE id IN (SELECT value FROM json_each(?)) AND published_at IS NULL`, at, JSON.stringify(done))
          published += done.length
        }
      }).pipe(Effect.ensuring(Effect.sync(() => chosen.forEach(({ row }) => inFlight.delete(row.id)))))
      for (const { row } of chosen) inFlight.add(row.id)
      // Sent in order: a round starts (and sends) before the next is read; at most ROUNDS_IN_FLIGHT await their hubs.
      rounds.push(yield* Effect.fork(round))
      // The scan reached the end and this round took all of it: nothing is left to look for in this
      // pass (a row committed meanwhile asks for another pass), so no scan runs again only to find the
      // rows in flight. The usual case of a write drained on its own: one scan, one load, one send.
      if (whole && scanned.length < SCAN) break
      yield* Effect.yieldNow()
      if (rounds.length >= ROUNDS_IN_FLIGHT) yield* Fiber.join(rounds.shift()!)
    }
    for (const round of rounds) yield* Fiber.join(round)
    return { published, parked, retryAt } satisfies DrainOutcome
  })

/**
 * Forget published rows older than the retention; parked rows are kept for inspection, and so is
 * the highest row: ids come from SQLite's rowid (no AUTOINCREMENT), which must never go back.
 */
export const prunePublished = (sql: SqlShape) =>
  Effect.flatMap(Clock.currentTimeMillis, (now) =>
    sql.run(
      `DELETE FROM ${OUTBOX_TABLE} WHERE published_at IS NOT NULL AND published_at < ? AND parked_at IS NULL AND id < (SELECT MAX(id) FROM ${OUTBOX_TABLE})`,
      now - PUBLISHED_RETENTION_MS,
    ),
  )
