/**
 * The drain's usual case without the drain: a write committed while nothing else of its shard's
 * outbox is pending or being sent hands its own changes to their hubs at once, from what its
 * commit returned (outbox ids, hubs, images), and marks them published when every hub
 * acknowledged. No outbox scan, no image load, no fiber: one promise per hub and one `UPDATE`.
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

/**
 * Send a committed batch's changes, one call per hub in outbox order; resolves `true` when all were
 * acknowledged and marked published, `false` when they stay pending for the drain.
 */
export const sendDirect = (sql: SqlShape, changes: ReadonlyArray<DrainedChange>, sendNow: SendNow, now: () => number): Promise<boolean> => {
  return Promise.all(Array.from(changesByHub(changes), ([hub, list]) => sendNow(hub, list))).then((acknowledged) => {
    if (!acknowledged.every(Boolean)) return false
    const ids = changes.map(({ change }) => change.outboxId)
    // As the drain marks a round: a failed mark leaves the rows pending, and the drain re-sends them (the hubs drop them).
    const marked = sql.statementNow((_exec, run) =>
      ids.length === 1
        ? run(`UPDATE ${OUTBOX_TABLE} SET published_at = ?, retry_at = NULL WHERE id = ? AND published_at IS NULL`, now(), ids[0])
        : run(`UPDATE ${OUTBOX_TABLE} SET published_at = ?, retry_at = NULL WHERE id IN (SELECT value FROM json_each(?)) AND published_at IS NULL`, now(), JSON.stringify(ids)),
    )
    return Either.isRight(marked)
  })
}
