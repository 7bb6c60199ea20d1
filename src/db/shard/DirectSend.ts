/**
 * The drain's usual case without the drain: a write committed while nothing else of its shard's
 * outbox is pending or being sent hands its own changes to their hubs at once, from what its
 * commit returned (outbox ids, hubs, images), and marks them published when every hub
 * acknowledged. No outbox scan, no image load, no fiber: one promise per hub, and the mark rides the
 * next turn that writes (`OwedMarks`).
 *
 * Anything else is the drain's, unchanged: a hub that fails or refuses leaves the changes pending,
 * and the retry job armed before the commit drains them in order, counting attempts and parking as
 * it always does. Exactly once holds as for the drain (a hub drops an outbox id it already
 * applied), and so does order: the caller sends directly only when the outbox held no pending row
 * before this write's and no send is in flight (one flight shared with the drain's passes).
 *
 * @since 0.3.0
 */
import { Either } from "effect"
import type { SqlShape } from "../../services/Sql.js"
import { OUTBOX_TABLE } from "../Names.js"
import type { ShardChange } from "../Protocol.js"
import { changesByHub, type DrainedChange } from "../Writes.js"
import { DRAIN_BATCH, SEND_CHARS } from "./Outbox.js"

/** Send a hub its changes; resolves `true` once the hub applied them, `false` on any failure or refusal. */
export type SendNow = (hub: string, changes: ReadonlyArray<ShardChange>) => Promise<boolean>

/** Whether a batch's changes fit one send per hub, as a drain round would send them. */
export const fitsOneSend = (changes: ReadonlyArray<DrainedChange>) => {
  if (changes.length > DRAIN_BATCH) return false
  let chars = 0
  for (const { chars: size } of changes) chars += size
  return chars <= SEND_CHARS
}

/** Mark outbox rows published; `false` when the statement failed (the rows stay pending: the drain re-sends them, the hubs drop them). */
const markPublished = (sql: SqlShape, ids: ReadonlyArray<number>, at: number) =>
  Either.isRight(
    sql.statementNow((_exec, run) =>
      ids.length === 1
        ? run(`UPDATE ${OUTBOX_TABLE} SET published_at = ?, retry_at = NULL WHERE id = ? AND published_at IS NULL`, at, ids[0])
        : run(`UPDATE ${OUTBOX_TABLE} SET published_at = ?, retry_at = NULL WHERE id IN (SELECT value FROM json_each(?)) AND published_at IS NULL`, at, JSON.stringify(ids)),
    ),
  )

/**
 * The published marks of directly sent changes. A turn of a Durable Object that writes ends in a
 * commit of its own (a WAL write and a sync: the largest single cost of a write here, measured in
 * bench/notes/db.md), and an acknowledgement arrives in a turn of its own: marking there would cost
 * a commit per write. So a mark is owed instead, and stored by the next turn that writes anyway —
 * the next write's (`flush` before its commit), a drain pass's, the retry job's — while that job is
 * armed to come soon; without it, at once. Owed marks live in memory only: rows whose marks are
 * lost with the object stay pending and are re-sent at its wake (the hubs drop them by outbox id),
 * as a crash between acknowledgement and mark always allowed.
 */
export interface OwedMarks {
  /** Every hub applied these rows: mark them now, or owe the marks when `soon()` says a turn that writes will come. */
  readonly acknowledged: (ids: ReadonlyArray<number>) => boolean
  /** Store the owed marks in this turn; call before anything reads pending rows, and in a turn that writes anyway. */
  readonly flush: () => void
  /** Marks owed now. */
  readonly owed: () => number
}

export const makeOwedMarks = (sql: SqlShape, now: () => number, soon: () => boolean): OwedMarks => {
  let owed: Array<number> = []
  const flush = () => {
    if (owed.length === 0) return
    const ids = owed
    owed = []
    markPublished(sql, ids, now())
  }
  return {
    acknowledged: (ids) => {
      if (!soon()) {
        // Nothing will write soon: the marks owed so far go with these.
        const all = owed.length === 0 ? ids : [...owed, ...ids]
        owed = []
        return markPublished(sql, all, now())
      }
      for (const id of ids) owed.push(id)
      return true
    },
    flush,
    owed: () => owed.length,
  }
}

/**
 * Send a committed batch's changes, one call per hub in outbox order; resolves `true` when all were
 * acknowledged (and marked, or their marks owed: `OwedMarks`), `false` when they stay pending for the drain.
 */
export const sendDirect = (changes: ReadonlyArray<DrainedChange>, sendNow: SendNow, marks: OwedMarks): Promise<boolean> =>
  Promise.all(Array.from(changesByHub(changes), ([hub, list]) => sendNow(hub, list))).then((acknowledged) =>
    // As the drain marks a round: a failed mark leaves the rows pending, and the drain re-sends them (the hubs drop them).
    acknowledged.every(Boolean) ? marks.acknowledged(changes.map(({ change }) => change.outboxId)) : false,
  )
