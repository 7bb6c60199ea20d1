/**
 * What one parse of a Yjs update's structs says about it against a document, before anything is
 * applied: whether it is refused (unparsable, a missing dependency, a clock past precision or
 * jumping too far) and, if not, which clients it writes. `YjsStore` decides with it.
 *
 * @since 0.2.0
 */
import * as Y from "yjs"
import { readLayout, type UpdateLayout } from "./UpdateLayout.js"

/** Past this a clock is no longer an exact JavaScript number, and replicas would round it differently. */
export const MAX_CLOCK = Number.MAX_SAFE_INTEGER

/**
 * What one parse of an update's structs says: why it is refused, or which clients it writes,
 * where each of its clients' structs end, and its layout (`RunMerge` joins a run's updates with it):
 * the byte offset where its delete set starts, and where its structs end when they are all one
 * client's (-1 otherwise).
 */
export type Inspection =
  | { readonly refused: string }
  | { readonly authored: ReadonlyArray<number>; readonly ends: ReadonlyMap<number, number>; readonly deleteSetAt: number; readonly soleClientEnd: number }

/**
 * One read of the structs' layout (`readLayout`), checked against `doc` as it stands plus `ahead`
 * (per client, where the structs of updates accepted but not yet applied end):
 * - it parses;
 * - no client's structs start past what the document has of that client (a missing dependency);
 * - no client's clock ends past 2^53 - 1 (precision lost);
 * - no client's clock jumps further than `maxClockJump` past what the document has of it (a
 *   deleted or garbage-collected run is a few bytes for any length, so a tiny update could
 *   otherwise push a clock toward the precision limit).
 * The clients whose structs go beyond the document's state are the ones the update writes: its
 * authors. A damaged delete set is caught when applying.
 */
export const inspectUpdate = (doc: Y.Doc, update: Uint8Array, maxClockJump: number, ahead?: ReadonlyMap<number, number>): Inspection => {
  let meta: UpdateLayout
  try {
    meta = readLayout(update)
  } catch (cause) {
    return { refused: `not a Yjs update (${String(cause).slice(0, 120)})` }
  }
  let soleClientEnd = -1
  const authored: Array<number> = []
  for (const [client, clock] of meta.from) {
    const known = Math.max(Y.getState(doc.store, client), ahead?.get(client) ?? 0)
    if (clock > known) return { refused: `depends on client ${client} clock ${clock}, but the document has ${known}` }
    const end = meta.to.get(client) ?? clock
    if (!Number.isSafeInteger(clock) || !Number.isSafeInteger(end) || end > MAX_CLOCK) {
      return { refused: `client ${client} clock passes 2^53 - 1 (${end}), where clocks lose precision` }
    }
    if (end - known > maxClockJump) {
      return { refused: `client ${client} clock jumps from ${known} to ${end}, more than ${maxClockJump} in one update` }
    }
    if (end > known) authored.push(client)
    if (meta.from.size === 1) soleClientEnd = end
  }
  return { authored, ends: meta.to, deleteSetAt: meta.deleteSetAt, soleClientEnd }
}
