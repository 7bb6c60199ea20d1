/**
 * One Yjs update holding a whole pending run (`PendingUpdates`), so the store applies the run
 * with one `Y.applyUpdate` instead of one per update.
 *
 * Why: every `Y.applyUpdate` reads its structs and integrates them in its own pass, and in a
 * bundled Worker each pass also names the three closures Yjs makes for it (bundlers that keep
 * function names, as wrangler does by default, wrap each in a `defineProperty`): applying a run
 * of 1,000-2,500 one-keystroke updates inside one transaction cost ~2.3-3.5 µs per update that
 * way, the same run as one update ~0.8-1.4 µs (Node, the first 20,000 automerge-paper edits,
 * bundled as wrangler bundles). The document, and the transaction's update the run's row holds,
 * come out byte-identical (test/crdt-run-merge.test.ts).
 *
 * The join is taken only where it is plain concatenation in the V1 format: every update's structs
 * are one client's (the same client for the whole run) and each starts where the previous one
 * ended, so the structs of all of them read as one client's consecutive structs (V1 writes every
 * struct's origins in full, so a struct's bytes do not depend on what precedes it); their delete
 * sets are gathered into one, applied after all the structs as one update's are. Anything else
 * (several clients in one update, a gap or an overlap between two updates, a layout the
 * inspection did not give) answers `undefined`, and the run is applied update by update as before.
 *
 * @since 0.2.0
 */
import * as decoding from "lib0/decoding"
import * as encoding from "lib0/encoding"

/** What `mergeRun` needs of a run: its updates and, per update, the layout `inspectUpdate` found. */
export interface RunLayout {
  readonly updates: ReadonlyArray<Uint8Array>
  /** Per update: the byte offset where its delete set starts. */
  readonly deleteSetAt: ReadonlyArray<number>
  /** Per update: where its structs end when they are all one client's, else -1. */
  readonly soleClientEnd: ReadonlyArray<number>
}

/**
 * The run as one V1 update, or `undefined` when it is not a plain concatenation (see above) or a
 * delete set does not parse (only applying judges a damaged one: the update-by-update path does).
 */
export const mergeRun = (run: RunLayout): Uint8Array | undefined => {
  if (run.updates.length < 2) return undefined
  try {
    return concatenate(run)
  } catch {
    return undefined
  }
}

const concatenate = ({ updates, deleteSetAt, soleClientEnd }: RunLayout): Uint8Array | undefined => {
  let client = -1
  let firstClock = 0
  let nextClock = 0
  let structCount = 0
  // Per update, where its structs' bytes start (after its client header), -1 when it has none.
  const structsAt: Array<number> = new Array(updates.length)
  for (let index = 0; index < updates.length; index++) {
    const update = updates[index]!
    const decoder = decoding.createDecoder(update)
    const clients = decoding.readVarUint(decoder)
    if (clients === 0) {
      structsAt[index] = -1
      continue
    }
    if (clients !== 1 || soleClientEnd[index]! < 0) return undefined
    const count = decoding.readVarUint(decoder)
    const owner = decoding.readVarUint(decoder)
    const clock = decoding.readVarUint(decoder)
    if (client === -1) {
      client = owner
      firstClock = clock
    } else if (owner !== client || clock !== nextClock) return undefined
    if (count === 0 || decoder.pos > deleteSetAt[index]!) return undefined
    nextClock = soleClientEnd[index]!
    structCount += count
    structsAt[index] = decoder.pos
  }
  // Delete sets (V1: clients, then per client its id, its range count and each range's clock and length).
  const deletes = new Map<number, Array<number>>()
  for (let index = 0; index < updates.length; index++) {
    const update = updates[index]!
    const decoder = decoding.createDecoder(update)
    decoder.pos = deleteSetAt[index]!
    const clients = decoding.readVarUint(decoder)
    for (let entry = 0; entry < clients; entry++) {
      const deleted = decoding.readVarUint(decoder)
      const ranges = decoding.readVarUint(decoder)
      let list = deletes.get(deleted)
      if (list === undefined) deletes.set(deleted, (list = []))
      for (let range = 0; range < ranges; range++) list.push(decoding.readVarUint(decoder), decoding.readVarUint(decoder))
    }
    // Bytes after the delete set: not an update this join understands.
    if (decoder.pos !== update.byteLength) return undefined
  }
  const encoder = encoding.createEncoder()
  if (structCount === 0) encoding.writeVarUint(encoder, 0)
  else {
    encoding.writeVarUint(encoder, 1)
    encoding.writeVarUint(encoder, structCount)
    encoding.writeVarUint(encoder, client)
    encoding.writeVarUint(encoder, firstClock)
    for (let index = 0; index < updates.length; index++) {
      const at = structsAt[index]!
      if (at >= 0) encoding.writeUint8Array(encoder, updates[index]!.subarray(at, deleteSetAt[index]!))
    }
  }
  encoding.writeVarUint(encoder, deletes.size)
  for (const [deleted, list] of deletes) {
    encoding.writeVarUint(encoder, deleted)
    encoding.writeVarUint(encoder, list.length / 2)
    for (const value of list) encoding.writeVarUint(encoder, value)
  }
  return encoding.toUint8Array(encoder)
}
