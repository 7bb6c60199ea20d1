/**
 * Draining a shard's outbox to the table hubs.
 *
 * Pending rows (`published_at IS NULL`) are read in id order, grouped by target hub (an update
 * that changes a required-filter value targets two), and sent to each hub in order. A row is
 * marked `published_at` only when every hub it targets acknowledged it; otherwise it stays pending
 * and is sent again by the next drain (a hub drops ids it already applied). Drains of one shard
 * never overlap (the caller holds a one-permit lock), so each hub receives a shard's ids in order.
 *
 * @since 0.1.0
 */
import { Clock, Effect } from "effect"
import { StorageFailure, type RealtimeError } from "../RealtimeError.js"
import type { SqlShape } from "../services/Sql.js"
import type { DatabaseDefinition } from "./Declaration.js"
import { OUTBOX_TABLE } from "./Names.js"
import { hubIdOf } from "./Placement.js"
import type { ShardChange } from "./Protocol.js"
import type { DbRow } from "./Rows.js"

/** Rows sent per round; a drain loops until nothing is pending. */
export const DRAIN_BATCH = 200
/** Published rows are kept this long (for inspection), then pruned by the drain job. */
export const PUBLISHED_RETENTION_MS = 10 * 60_000

interface OutboxRow {
  readonly id: number
  readonly table_name: string
  readonly event: string
  readonly old_row: string | null
  readonly new_row: string | null
  readonly request_id: string
  readonly created_at: number
  readonly [column: string]: string | number | null
}

export type SendToHub = (hubId: string, changes: ReadonlyArray<ShardChange>) => Effect.Effect<unknown, RealtimeError>

export const pendingCount = (sql: SqlShape) =>
  Effect.map(sql.one<{ n: number }>(`SELECT COUNT(*) AS n FROM ${OUTBOX_TABLE} WHERE published_at IS NULL`), (row) => row?.n ?? 0)

/** One round: send up to DRAIN_BATCH pending rows. Returns how many were published; fails if a hub did not acknowledge. */
const drainRound = (sql: SqlShape, definition: DatabaseDefinition, shard: number, send: SendToHub) =>
  Effect.gen(function* () {
    const rows = yield* sql.all<OutboxRow>(`SELECT * FROM ${OUTBOX_TABLE} WHERE published_at IS NULL ORDER BY id LIMIT ?`, DRAIN_BATCH)
    if (rows.length === 0) return { published: 0, more: false }
    const byHub = new Map<string, Array<ShardChange>>()
    const targets = new Map<number, ReadonlyArray<string>>()
    for (const row of rows) {
      const table = definition.tables.get(row.table_name)
      const old = row.old_row === null ? null : (JSON.parse(row.old_row) as DbRow)
      const next = row.new_row === null ? null : (JSON.parse(row.new_row) as DbRow)
      if (table === undefined) {
        // A table removed from the declaration: nobody can subscribe to it any more.
        targets.set(row.id, [])
        continue
      }
      const hubs = [...new Set([old, next].filter((image): image is DbRow => image !== null).map((image) => hubIdOf(table, image)))]
      targets.set(row.id, hubs)
      const change: ShardChange = {
        shard,
        outboxId: row.id,
        table: row.table_name,
        event: row.event as ShardChange["event"],
        old,
        new: next,
        requestId: row.request_id,
        createdAt: row.created_at,
      }
      for (const hub of hubs) {
        const list = byHub.get(hub)
        if (list === undefined) byHub.set(hub, [change])
        else list.push(change)
      }
    }
    const outcomes = yield* Effect.forEach(
      [...byHub.entries()],
      ([hub, changes]) => Effect.map(Effect.either(send(hub, changes)), (outcome) => [hub, outcome] as const),
      { concurrency: "unbounded" },
    )
    const failed = new Set(outcomes.filter(([, outcome]) => outcome._tag === "Left").map(([hub]) => hub))
    const done = rows.filter((row) => (targets.get(row.id) ?? []).every((hub) => !failed.has(hub))).map((row) => row.id)
    const now = yield* Clock.currentTimeMillis
    if (done.length > 0) {
      // One JSON parameter, not one per id: SQLite in a Durable Object binds at most 100 parameters.
      yield* sql.run(`UPDATE ${OUTBOX_TABLE} SET published_at = ? WHERE id IN (SELECT value FROM json_each(?)) AND published_at IS NULL`, now, JSON.stringify(done))
    }
    if (failed.size > 0) {
      const first = outcomes.find(([, outcome]) => outcome._tag === "Left")
      const reason = first !== undefined && first[1]._tag === "Left" ? first[1].left.message : "unknown"
      return yield* new StorageFailure({ message: `outbox: ${failed.size} hub(s) did not acknowledge (${reason.slice(0, 200)}); retrying` })
    }
    return { published: done.length, more: rows.length === DRAIN_BATCH }
  })

/** Drain until nothing is pending. Fails (to be retried by the job) when a hub is unreachable. */
export const drainAll = (sql: SqlShape, definition: DatabaseDefinition, shard: number, send: SendToHub) =>
  Effect.gen(function* () {
    let published = 0
    for (;;) {
      const round = yield* drainRound(sql, definition, shard, send)
      published += round.published
      if (!round.more) return published
    }
  })

/** Forget published rows older than the retention. */
export const prunePublished = (sql: SqlShape) =>
  Effect.flatMap(Clock.currentTimeMillis, (now) =>
    sql.run(`DELETE FROM ${OUTBOX_TABLE} WHERE published_at IS NOT NULL AND published_at < ?`, now - PUBLISHED_RETENTION_MS),
  )
