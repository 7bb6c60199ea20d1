/**
 * The Yjs document of a CRDT room: held in memory, persisted as a base state plus an ordered log
 * of the updates applied since.
 *
 * An update is validated before anything is stored: its structs must parse and must not depend on
 * structs the document does not have, and it must apply cleanly (no pending structs or deletions). If applying fails half way,
 * the in-memory document is rebuilt from storage, so memory and storage never disagree and a bad
 * update changes nothing. Updates that add nothing are not stored.
 *
 * Compaction folds the log into the base (`Y.encodeStateAsUpdate`); the update stream then
 * continues after `compactedThrough`. Storage goes through the `YjsDocumentStore` Tag.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import * as Y from "yjs"
import { InvalidInput, type ConstraintViolation, type StorageFailure } from "../../RealtimeError.js"
import type { Actor } from "../../schema/Common.js"
import type { CompactResult, StreamEntry, StreamPage } from "../../schema/Crdt.js"
import { YjsDocumentStore } from "../../storage/YjsDocumentStore.js"
import { CHUNK_BYTES } from "../../storage/Blobs.js"
import { toBase64 } from "./Base64.js"
import { bindingsOf, ownerKey, type ClientOwners } from "./ClientOwners.js"
import { applyChecked, applyRuns, replayRuns } from "./ApplyRuns.js"
import { makePendingUpdates } from "./PendingUpdates.js"
import { inspectUpdate } from "./UpdateInspection.js"

export { yjsMigration } from "../../storage/YjsDocumentStore.js"

const invalid = (message: string) => new InvalidInput({ field: "updateBase64", message: `updateBase64: ${message}` })

/** Log bytes per base byte before a fold (see `compactionDue`). */
export const LOG_TO_BASE = 1.5

export interface AppliedUpdate {
  readonly seq: number
  readonly duplicate: boolean
}

/** A stored run: its row's seq, its merged update, and the frame to forward if it is the original. */
export interface StoredRun {
  readonly seq: number
  readonly origin: string
  readonly update: Uint8Array
  readonly forward: Uint8Array | undefined
}

/** What `flushPending` did: the runs stored (in order), and the connections whose updates it dropped. */
export interface Flushed {
  readonly stored: ReadonlyArray<StoredRun>
  /** Connections with an update refused when applied: it and their later pending updates were dropped. */
  readonly refused: ReadonlyArray<{ readonly origin: string; readonly error: InvalidInput }>
  /** Storing failed: nothing was stored, the document is back to storage, these connections' updates are gone. */
  readonly failure?: { readonly error: StorageFailure | ConstraintViolation; readonly dropped: ReadonlyArray<string> }
}

export interface YjsStoreOptions {
  readonly owners: ClientOwners
  /** Largest clock advance of one client in one update (see `inspectUpdate`). */
  readonly maxClockJump: number
}

export const makeYjsStore = ({ owners, maxClockJump }: YjsStoreOptions) =>
  Effect.gen(function* () {
    const storage = yield* YjsDocumentStore
    let doc = new Y.Doc()
    let compactedThrough = 0
    let lastSeq = 0
    let logCount = 0
    let logBytes = 0
    // Bytes of the stored base (what one compaction rewrites): the compaction trigger scales with it.
    let baseBytes = 0
    // Bytes received in updates and bytes written for them (log rows, compacted bases), since this
    // object woke: their ratio is the write amplification benchmarks report.
    const written = { receivedBytes: 0, writtenBytes: 0, writtenRows: 0 }

    /** Rebuild the document from storage: the base, then every logged update in order. */
    const load = Effect.map(storage.load, (stored) => {
      const next = new Y.Doc()
      if (stored.base !== undefined) Y.applyUpdate(next, stored.base)
      baseBytes = stored.base?.byteLength ?? 0
      for (const row of stored.updates) Y.applyUpdate(next, row.update)
      doc.destroy()
      doc = next
      compactedThrough = stored.compactedThrough
      logCount = stored.updates.length
      logBytes = stored.updates.reduce((sum, row) => sum + row.update.byteLength, 0)
      lastSeq = Math.max(compactedThrough, stored.updates[stored.updates.length - 1]?.seq ?? 0)
    })
    yield* Effect.orDie(load)
    /** `load`, synchronously, for the paths that must undo a half-applied update. */
    const reload = (): Y.Doc => {
      Effect.runSync(Effect.orDie(load))
      return doc
    }

    /**
     * Updates accepted and neither applied nor stored (see `applyPending`), in runs of consecutive
     * updates from one connection: the document holds only what storage holds.
     */
    const pending = makePendingUpdates({ owners, maxClockJump, maxRunBytes: CHUNK_BYTES })

    /**
     * Validate and apply one update to the document in memory, nothing stored yet. The update may
     * write only client ids that are unbound (they become `owner`'s, stored with the update) or
     * already `owner`'s: structs of a client id bound to another actor are refused. Structs the
     * document already has are no-ops and may carry anyone's id (a relayed update). Delete-set
     * entries name the author of what is deleted, not the deleter, so they are free. On a failed
     * apply the document is rebuilt from storage, so a refused update changes nothing.
     */
    const validateAndApply = (update: Uint8Array, origin: string | null, owner: string): { readonly refused: string } | { readonly changed: boolean; readonly fresh: Array<number> } => {
      const inspection = inspectUpdate(doc, update, maxClockJump)
      if ("refused" in inspection) return inspection
      const taken = owners.foreign(inspection.authored, owner)
      if (taken !== undefined) return { refused: `writes structs of client ${taken}, which belongs to another actor` }
      const fresh = owners.unbound(inspection.authored)
      const outcome = applyChecked(doc, update, origin ?? "http")
      if ("failure" in outcome) {
        Effect.runSync(Effect.orDie(load))
        return { refused: outcome.failure }
      }
      return { changed: outcome.changed, fresh }
    }

    const counted = (update: Uint8Array, seq: number): AppliedUpdate => {
      written.receivedBytes += update.byteLength
      if (lastSeq !== seq) {
        lastSeq = seq
        logCount++
        logBytes += update.byteLength
        written.writtenBytes += update.byteLength
        written.writtenRows += 1
      }
      return { seq, duplicate: false }
    }

    /** One log row (and the client ids it binds) in one transaction: the update is durable. */
    const insertRow = (update: Uint8Array, seq: number, origin: string | null, actor: Actor, owner: string, fresh: ReadonlyArray<number>, now: number) =>
      Effect.map(
        storage.append([{ seq, clientId: origin, actor: JSON.stringify(actor), update, createdAt: now }], bindingsOf(fresh, owner, now)),
        () => owners.commit(fresh, owner),
      )

    /** Whether `applyNow` can take an update of this many bytes (larger ones go through `compact`). */
    const fitsOneRow = (bytes: number) => bytes <= CHUNK_BYTES

    /**
     * `apply` without the Effect runtime, for the y-websocket hot path: the same validation, apply
     * and one-row transaction, synchronously. Only for updates that `fitsOneRow`.
     */
    const applyNow = (update: Uint8Array, origin: string | null, actor: Actor, now: number): AppliedUpdate | InvalidInput | StorageFailure | ConstraintViolation => {
      const owner = ownerKey(actor)
      const outcome = validateAndApply(update, origin, owner)
      if ("refused" in outcome) return invalid(outcome.refused)
      if (!outcome.changed) return { seq: lastSeq, duplicate: true }
      const seq = lastSeq + 1
      const stored = Effect.runSync(Effect.either(insertRow(update, seq, origin, actor, owner, outcome.fresh, now)))
      if (stored._tag === "Left") {
        Effect.runSync(Effect.orDie(load))
        return stored.left
      }
      return counted(update, seq)
    }

    /**
     * Check an update and queue it, to be applied and stored by the next `flushPending` (coalescing
     * a stream of updates into one transaction). Its client-id bindings take effect at once, so
     * the updates after it are checked against them. Only for updates that `fitsOneRow`.
     */
    const applyPending = (update: Uint8Array, origin: string, actor: Actor, forward: Uint8Array | undefined, now: number): { readonly pending: boolean } | InvalidInput => {
      const refusal = pending.add(doc, update, origin, actor, forward, now)
      if (refusal !== undefined) return invalid(refusal.refused)
      written.receivedBytes += update.byteLength
      return { pending: true }
    }

    /**
     * Apply and store every pending run, one row each, in one transaction. Returns what to forward,
     * in order, once stored, and the connections whose updates were refused; on a storage failure
     * the document and the bindings are rolled back to storage and nothing is forwarded.
     */
    const flushPending = (): Flushed => {
      const runs = pending.take()
      if (runs.length === 0) return { stored: [], refused: [] }
      const fast = applyRuns(doc, runs)
      const { rows, refused } = fast === undefined ? replayRuns(reload, owners, runs) : { rows: fast, refused: [] }
      if (rows.length === 0) return { stored: [], refused }
      const numbered = rows.map((row, index) => ({ ...row, seq: lastSeq + 1 + index }))
      const stored = Effect.runSync(
        Effect.either(
          storage.append(
            numbered.map(({ run, seq, update }) => ({ seq, clientId: run.origin, actor: JSON.stringify(run.actor), update, createdAt: run.at })),
            numbered.flatMap(({ run }) => bindingsOf(run.fresh, run.owner, run.at)),
          ),
        ),
      )
      if (stored._tag === "Left") {
        for (const run of runs) owners.forget(run.fresh)
        Effect.runSync(Effect.orDie(load))
        return { stored: [], refused, failure: { error: stored.left, dropped: [...new Set(runs.map((run) => run.origin))] } }
      }
      for (const { seq, update } of numbered) {
        lastSeq = seq
        logCount++
        logBytes += update.byteLength
        written.writtenBytes += update.byteLength
        written.writtenRows += 1
      }
      return { stored: numbered.map(({ run, seq, update }) => ({ seq, origin: run.origin, update, forward: run.updates.length === 1 ? run.forward : undefined })), refused }
    }

    /** Validate, apply and persist one update. Nothing changes unless all three succeed. */
    const apply = (
      update: Uint8Array,
      origin: string | null,
      actor: Actor,
      now: number,
    ): Effect.Effect<AppliedUpdate, InvalidInput | StorageFailure | ConstraintViolation> =>
      Effect.suspend(() => {
        if (fitsOneRow(update.byteLength)) {
          const result = applyNow(update, origin, actor, now)
          return "_tag" in result ? Effect.fail(result) : Effect.succeed(result)
        }
        return Effect.gen(function* () {
          const owner = ownerKey(actor)
          const outcome = validateAndApply(update, origin, owner)
          if ("refused" in outcome) return yield* invalid(outcome.refused)
          if (!outcome.changed) return { seq: lastSeq, duplicate: true }
          const seq = lastSeq + 1
          // Too big for one row: persist by folding it, with the log, into the chunked base.
          const stored = yield* Effect.either(
            Effect.zipRight(
              Effect.zipRight(
                owners.bind(outcome.fresh, owner, now),
                Effect.sync(() => {
                  lastSeq = seq
                }),
              ),
              Effect.asVoid(compact),
            ),
          )
          if (stored._tag === "Left") {
            yield* Effect.orDie(load)
            return yield* Effect.fail(stored.left)
          }
          return counted(update, seq)
        })
      })

    /**
     * `Y.encodeStateAsUpdate(doc)`, kept until the document changes (another row, another doc
     * after a reload or clear, or pending updates): every joiner of a large document and every
     * fold would otherwise encode the whole document again.
     */
    let fullState: { readonly doc: Y.Doc; readonly seq: number; readonly bytes: Uint8Array } | undefined
    const encodedState = (): Uint8Array => {
      if (fullState !== undefined && fullState.doc === doc && fullState.seq === lastSeq) return fullState.bytes
      const bytes = Y.encodeStateAsUpdate(doc)
      fullState = { doc, seq: lastSeq, bytes }
      return bytes
    }

    /** Fold the log into the base state. */
    const compact: Effect.Effect<CompactResult, StorageFailure | ConstraintViolation> = Effect.suspend(() => compactNow)
    const compactNow = Effect.gen(function* () {
      const bytesBefore = yield* storedBytes
      // Nothing since the last fold: the base already is the document; rewriting it would only
      // cost its size in writes.
      if (lastSeq === compactedThrough && logCount === 0) {
        return { compactedThrough, foldedUpdates: 0, bytesBefore, bytesAfter: bytesBefore }
      }
      const folded = logCount
      const through = lastSeq
      const state = encodedState()
      yield* storage.fold(state, through)
      compactedThrough = through
      baseBytes = state.byteLength
      written.writtenBytes += state.byteLength
      written.writtenRows += Math.max(1, Math.ceil(state.byteLength / CHUNK_BYTES)) + 1
      logCount = 0
      logBytes = 0
      return { compactedThrough: through, foldedUpdates: folded, bytesBefore, bytesAfter: yield* storedBytes }
    })

    /**
     * Whether the log should be folded into the base now. A fold rewrites the whole base, so it
     * waits until the log has brought LOG_TO_BASE times the base's bytes: bytes written stay
     * within (1 + 1/LOG_TO_BASE)× the bytes received however large the document grows (a fixed
     * count of updates rewrote a 311 KB base every 500 one-keystroke updates of ~25 bytes: ~26×).
     * `afterUpdates` (with a small base) and `afterBytes` still bound how much a wake replays.
     */
    const compactionDue = (afterUpdates: number, afterBytes: number) =>
      logCount > 0 && (logBytes >= afterBytes || (logCount >= afterUpdates && logBytes >= baseBytes * LOG_TO_BASE))

    /** Bytes the document takes in storage: base chunks plus logged updates. */
    const storedBytes = storage.storedBytes

    const stream = (cursor: number, limit: number): Effect.Effect<StreamPage, StorageFailure> =>
      Effect.map(
        storage.range(cursor, limit + 1),
        (rows) => {
          const page = rows.slice(0, limit)
          const entries = page.map(
            (row): StreamEntry => ({
              seq: row.seq,
              clientId: row.clientId,
              actor: JSON.parse(row.actor),
              updateBase64: toBase64(row.update),
              createdAt: new Date(row.createdAt).toISOString(),
            }),
          )
          return {
            entries,
            nextCursor: rows.length > limit ? (page[page.length - 1]?.seq ?? null) : null,
            compactedThrough,
            truncated: cursor < compactedThrough,
            lastSeq,
          }
        },
      )

    /** Forget the document entirely (destroy with `deleteHistory`). The stream keeps counting. */
    const clear = Effect.gen(function* () {
      yield* storage.clear(lastSeq)
      owners.cleared()
      compactedThrough = lastSeq
      doc.destroy()
      doc = new Y.Doc()
      logCount = 0
      logBytes = 0
    })

    return {
      doc: () => doc,
      encodedState,
      apply,
      applyNow,
      applyPending,
      flushPending,
      hasPending: pending.has,
      pendingBytes: pending.bytes,
      fitsOneRow,
      compact,
      compactionDue,
      stream,
      clear,
      storedBytes,
      lastSeq: () => lastSeq,
      compactedThrough: () => compactedThrough,
      log: () => ({ count: logCount, bytes: logBytes }),
      written: () => ({ ...written }),
    }
  })

export type YjsStore = Effect.Effect.Success<ReturnType<typeof makeYjsStore>>
