/**
 * Applying a CRDT room's pending runs (`PendingUpdates`) to its document when they are stored:
 * each run inside one Yjs transaction, whose own update becomes the run's row, and the slow path
 * that finds and refuses an update only applying could refuse.
 *
 * @since 0.2.0
 */
import * as Y from "yjs"
import { InvalidInput } from "../../RealtimeError.js"
import type { ClientOwners } from "./ClientOwners.js"
import type { PendingRun } from "./PendingUpdates.js"
import { mergeRun } from "./RunMerge.js"

const PENDING_CONTENT = "refers to content the document does not have"

/** Whether the document holds structs or deletions waiting for content it lacks (a bad update left them). */
const hasPending = (doc: Y.Doc) => doc.store.pendingStructs !== null || doc.store.pendingDs !== null

/** A run and what storing it writes: the update of the transaction that applied it. */
export interface RunRow {
  readonly run: PendingRun
  readonly update: Uint8Array
}

/** Apply one update that passed `inspectUpdate`: why it failed, or whether it changed anything. */
export const applyChecked = (doc: Y.Doc, update: Uint8Array, origin: string): { readonly failure: string } | { readonly changed: boolean } => {
  let changed = false
  const onUpdate = () => {
    changed = true
  }
  doc.on("update", onUpdate)
  try {
    Y.applyUpdate(doc, update, origin)
    return hasPending(doc) ? { failure: PENDING_CONTENT } : { changed }
  } catch (cause) {
    return { failure: `could not be applied (${String(cause).slice(0, 120)})` }
  } finally {
    doc.off("update", onUpdate)
  }
}

/**
 * Apply each run in one Yjs transaction; its row is that transaction's update (what the run
 * changed, merged by Yjs; no row for a run that changed nothing). A run that joins into one
 * update (`mergeRun`) is applied as that one update, else update by update. `undefined` when an
 * update fails to apply: the document is then half changed, and `replayRuns` starts over.
 */
export const applyRuns = (doc: Y.Doc, runs: ReadonlyArray<PendingRun>): Array<RunRow> | undefined => {
  const rows: Array<RunRow> = []
  for (const run of runs) {
    let effect: Uint8Array | undefined
    const capture = (update: Uint8Array) => {
      effect = update
    }
    doc.on("update", capture)
    try {
      doc.transact(() => {
        const merged = mergeRun(run)
        for (const update of merged === undefined ? run.updates : [merged]) {
          Y.applyUpdate(doc, update, run.origin)
          if (hasPending(doc)) throw new Error(PENDING_CONTENT)
        }
      }, run.origin)
    } catch {
      return undefined
    } finally {
      doc.off("update", capture)
    }
    if (effect !== undefined) rows.push({ run, update: effect })
  }
  return rows
}

/**
 * The slow path after a failed `applyRuns`: rebuild the document from storage (`reload`) and
 * apply the updates one by one, in order. An update that fails is refused with the rest of its
 * connection's pending updates (as if its socket had closed on it) and the client ids only they
 * bound are unbound; the others are kept, one row per run (merged; rare, so `Y.mergeUpdates`).
 */
export const replayRuns = (reload: () => Y.Doc, owners: ClientOwners, runs: ReadonlyArray<PendingRun>) => {
  let doc = reload()
  const refused = new Map<string, InvalidInput>()
  const kept: Array<Uint8Array> = []
  const rows: Array<RunRow> = []
  for (const run of runs) {
    const changes: Array<Uint8Array> = []
    for (const update of run.updates) {
      if (refused.has(run.origin)) break
      const outcome = applyChecked(doc, update, run.origin)
      if ("failure" in outcome) {
        refused.set(run.origin, new InvalidInput({ field: "updateBase64", message: `updateBase64: ${outcome.failure}` }))
        doc = reload()
        for (const earlier of kept) Y.applyUpdate(doc, earlier)
        break
      }
      kept.push(update)
      if (outcome.changed) changes.push(update)
    }
    if (changes.length > 0) rows.push({ run, update: changes.length === 1 ? changes[0]! : Y.mergeUpdates(changes) })
    else owners.forget(run.fresh)
  }
  return { rows, refused: [...refused].map(([origin, error]) => ({ origin, error })) }
}
