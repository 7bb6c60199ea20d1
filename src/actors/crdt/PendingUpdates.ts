/**
 * Updates a CRDT room accepted over y-websocket and has neither applied nor stored yet. The next
 * store (`YjsStore.flushPending`) applies each run of one connection's updates inside one Yjs
 * transaction and stores that transaction's update as the run's row.
 *
 * Why they wait unapplied: applying one small update is a whole Yjs transaction (cleanup,
 * observers, struct merging) every time; inside one transaction a run costs a fraction of that
 * per update, and the transaction's own update is the run's merged row for free
 * (`Y.mergeUpdates` grows faster than linearly with the run: ~8 µs per update in runs of 250,
 * ~60 in runs of 2,500, measured on automerge-paper edits). It also keeps the document in memory
 * equal to what storage holds: nothing unstored can be read from it.
 *
 * Each update is still checked the moment it arrives, against the document plus the updates
 * ahead of it (`inspectUpdate` with `ahead`): it parses, depends on nothing missing by clock,
 * stays within the clock limits, and writes only client ids that are free or its actor's (their
 * bindings take effect at once, so later updates are checked against them). What only applying
 * can find (a struct whose origin the document lacks, a damaged delete set) is found when the
 * run is applied, and refuses that update and the rest of its connection's pending ones.
 *
 * @since 0.2.0
 */
import type * as Y from "yjs"
import type { Actor } from "../../schema/Common.js"
import { ownerKey, type ClientOwners } from "./ClientOwners.js"
import { inspectUpdate } from "./UpdateInspection.js"

/** Consecutive pending updates from one connection (one transaction and one row once stored). */
export interface PendingRun {
  readonly origin: string
  readonly actor: Actor
  readonly owner: string
  readonly updates: Array<Uint8Array>
  /** Per update, its layout from `inspectUpdate`: where its delete set starts, where its structs end if one client's (else -1). */
  readonly deleteSetAt: Array<number>
  readonly soleClientEnd: Array<number>
  /** Sum of the updates' bytes: a run stays within one row (`maxRunBytes`), below SQLite's value limit. */
  bytes: number
  /** Client ids the run's updates bound to its actor (stored with its row). */
  readonly fresh: Array<number>
  /** The original frame when the run is one update that arrived as one (forwarded as is). */
  forward: Uint8Array | undefined
  readonly at: number
}

export interface PendingUpdatesOptions {
  readonly owners: ClientOwners
  /** Largest clock advance of one client in one update (see `inspectUpdate`). */
  readonly maxClockJump: number
  /** Most bytes of updates in one run: a transaction's update is never larger than its parts. */
  readonly maxRunBytes: number
}

export const makePendingUpdates = ({ owners, maxClockJump, maxRunBytes }: PendingUpdatesOptions) => {
  let runs: Array<PendingRun> = []
  // Bytes of every pending run together: the room stores at once past a bound, whatever its timer says.
  let bytes = 0
  // Per client, where the structs of the pending updates end: the document's state once applied.
  const ahead = new Map<number, number>()

  /** Check `update` against `doc` and the updates ahead of it, and queue it; or say why not. */
  const add = (doc: Y.Doc, update: Uint8Array, origin: string, actor: Actor, forward: Uint8Array | undefined, now: number): { readonly refused: string } | undefined => {
    const owner = ownerKey(actor)
    const inspection = inspectUpdate(doc, update, maxClockJump, ahead)
    if ("refused" in inspection) return inspection
    const taken = owners.foreign(inspection.authored, owner)
    if (taken !== undefined) return { refused: `writes structs of client ${taken}, which belongs to another actor` }
    const fresh = owners.unbound(inspection.authored)
    owners.commit(fresh, owner)
    for (const client of inspection.authored) ahead.set(client, inspection.ends.get(client) ?? 0)
    bytes += update.byteLength
    const last = runs[runs.length - 1]
    if (last !== undefined && last.origin === origin && last.owner === owner && last.bytes + update.byteLength <= maxRunBytes) {
      last.updates.push(update)
      last.deleteSetAt.push(inspection.deleteSetAt)
      last.soleClientEnd.push(inspection.soleClientEnd)
      last.bytes += update.byteLength
      for (const client of fresh) last.fresh.push(client)
      last.forward = undefined
    } else {
      runs.push({ origin, actor, owner, updates: [update], deleteSetAt: [inspection.deleteSetAt], soleClientEnd: [inspection.soleClientEnd], bytes: update.byteLength, fresh, forward, at: now })
    }
    return undefined
  }

  /** Every pending run, oldest first; the queue is left empty. */
  const take = (): ReadonlyArray<PendingRun> => {
    const taken = runs
    runs = []
    bytes = 0
    ahead.clear()
    return taken
  }

  return { add, take, has: () => runs.length > 0, bytes: () => bytes }
}

export type PendingUpdates = ReturnType<typeof makePendingUpdates>
