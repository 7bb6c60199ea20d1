/**
 * The message log shared by rooms and channels: append with idempotency, keyset-paged history,
 * pruning to `historyLimit`.
 *
 * Positions: `seq` increases by one per stored message; `epoch` names one life of the log, so a
 * position from a previous life (before a destroy or restore) is recognised as such.
 *
 * Writes per publish: one row (the message; its idempotency key is a column with a partial unique
 * index). Pruning deletes in batches, and reads never show a message older than the limit.
 *
 * Storage goes through the `MessageStore` Tag (`storage/MessageStore.ts`): SQLite in a Durable
 * Object, memory in unit tests; this module holds the rules, not the SQL.
 *
 * @since 0.1.0
 */
import { Effect, Either, Schema } from "effect"
import { IdempotencyConflict, InvalidInput, PayloadTooLarge, type ConstraintViolation, type StorageFailure } from "../../RealtimeError.js"
import type { Actor } from "../../schema/Common.js"
import type { HistoryPage, StoredMessage } from "../../schema/Message.js"
import { actorJson, storedMessageJson, withMessageJson } from "../../schema/ServerFrames.js"
import { isoTime } from "../../internal/IsoTime.js"
import { MessageStore, type MessageRow } from "../../storage/MessageStore.js"

/** Moved to the storage module; re-exported for the actors' migration lists. */
export { messageLogMigration } from "../../storage/MessageStore.js"

export interface AppendInput {
  readonly type: string
  readonly data: unknown
  /**
   * The data's JSON text when the caller already holds it in `JSON.stringify`'s form (a publish read
   * from its text, src/schema/FrameText.ts): stored as it is, and `data` is not read.
   */
  readonly dataJson?: string | undefined
  readonly metadata?: Record<string, unknown> | undefined
  readonly idempotencyKey?: string | undefined
}

/**
 * A history cursor: the epoch, the seq to continue from (exclusive), the direction, and for
 * newest-first pages the newest seq the first page saw (`h`), so every later page can still say
 * where to catch up from.
 */
const Cursor = Schema.parseJson(
  Schema.Struct({ e: Schema.String, s: Schema.Number.pipe(Schema.int()), d: Schema.Literal("b", "f"), h: Schema.optional(Schema.Number.pipe(Schema.int())) }),
)
const encodeCursor = (epoch: string, seq: number, direction: "b" | "f", head?: number) =>
  btoa(JSON.stringify(head === undefined ? { e: epoch, s: seq, d: direction } : { e: epoch, s: seq, d: direction, h: head })).replace(/=+$/, "")

const decodeCursor = (cursor: string) =>
  Effect.try({ try: () => atob(cursor), catch: () => undefined }).pipe(
    Effect.flatMap((text) => Schema.decodeUnknown(Cursor)(text)),
    Effect.mapError(() => new InvalidInput({ field: "cursor", message: "cursor: not a cursor returned by history()" })),
  )

/** UTF-8 bytes of a text (only for texts long enough to be near a limit). */
const utf8Length = (text: string) => new TextEncoder().encode(text).length

export const newEpoch = () => crypto.randomUUID().replaceAll("-", "").slice(0, 12)

export const makeMessageLog = (
  options: { readonly historyLimit: number; readonly maxPayloadBytes: number; readonly idempotency: "retry" | "strict" },
) =>
  Effect.gen(function* () {
    const store = yield* MessageStore
    const facts = yield* Effect.orDie(store.load)
    let lastSeq = Math.max(facts.floor ?? 0, facts.maxSeq ?? 0)
    // Stored rows are the contiguous run firstStored..lastSeq (appends go on top; pruning, deleteAll
    // and truncateAfter remove from either end), so the stored count needs no COUNT(*) per report.
    let firstStored = facts.minSeq ?? lastSeq + 1
    let epoch = facts.epoch ?? newEpoch()
    yield* Effect.orDie(store.saveEpoch(epoch))
    // Physically prune in batches of a tenth of the limit; reads hide the overhang.
    const pruneEvery = Math.max(1, Math.floor(options.historyLimit / 10))

    /** A row's message as the JSON text every frame carries, from the texts the row holds. */
    const rowJson = (row: MessageRow, createdAt: string) =>
      storedMessageJson({
        id: row.id,
        seq: row.seq,
        epoch,
        type: row.type,
        dataJson: row.data,
        metadataJson: row.metadata,
        actorJson: row.actor,
        createdAt,
        idempotencyKey: row.idempotency_key,
      })

    // The message keeps its row's JSON text beside it: every frame that carries it (fan-out, SSE,
    // replay, ack) uses that text, so a publish is encoded once, when stored.
    const toMessage = (row: MessageRow): StoredMessage => {
      const createdAt = new Date(row.created_at).toISOString()
      const message: StoredMessage = {
        id: row.id,
        seq: row.seq,
        epoch,
        type: row.type,
        data: JSON.parse(row.data),
        ...(row.metadata === null ? {} : { metadata: JSON.parse(row.metadata) }),
        actor: JSON.parse(row.actor),
        createdAt,
        ...(row.idempotency_key === null ? {} : { idempotencyKey: row.idempotency_key }),
      }
      return withMessageJson(message, rowJson(row, createdAt))
    }

    /** Oldest seq that history still shows. */
    const oldestVisible = () => Math.max(1, lastSeq - options.historyLimit + 1)

    /**
     * Whether a payload's JSON texts fit `maxPayloadBytes` in UTF-8. A UTF-16 code unit is at most 3
     * UTF-8 bytes, so short texts (every usual message) are measured by their length alone.
     */
    const payloadSize = (dataJson: string | undefined, metadataJson: string | null) => {
      const units = (dataJson?.length ?? 0) + (metadataJson?.length ?? 0)
      if (units * 3 <= options.maxPayloadBytes) return units
      return utf8Length(dataJson ?? "") + (metadataJson === null ? 0 : utf8Length(metadataJson))
    }

    const tooLarge = (size: number) =>
      new PayloadTooLarge({
        field: "data",
        size,
        limit: options.maxPayloadBytes,
        message: `data: ${size} bytes of JSON exceeds the limit of ${options.maxPayloadBytes} bytes`,
      })

    /** Messages for an idempotency key, if it is still remembered. */
    const byKey = (key: string) => Effect.map(store.byKey(key), (row) => (row === undefined ? undefined : toMessage(row)))

    /**
     * The row an append would store (data, metadata and actor encoded here, once), the size its
     * payload counts against `maxPayloadBytes`, and the seq below which it prunes (every
     * `pruneEvery` messages).
     */
    const nextRow = (input: AppendInput, actor: Actor, now: number) => {
      const seq = lastSeq + 1
      // `undefined` data is stored as null but, as before, counts no bytes.
      const dataJson: string | undefined = input.dataJson ?? JSON.stringify(input.data)
      const metadata = input.metadata === undefined ? null : JSON.stringify(input.metadata)
      const row: MessageRow = {
        seq,
        id: `msg_${epoch}_${seq}`,
        type: input.type,
        data: dataJson ?? "null",
        metadata,
        actor: actorJson(actor),
        created_at: now,
        idempotency_key: input.idempotencyKey ?? null,
      }
      return { row, size: payloadSize(dataJson, metadata), pruneBelow: seq % pruneEvery === 0 ? Math.max(1, seq - options.historyLimit + 1) : undefined }
    }

    /** After the store took the row: move the positions. */
    const advance = (row: MessageRow, pruned: boolean) => {
      if (firstStored > lastSeq) firstStored = row.seq
      lastSeq = row.seq
      if (pruned) firstStored = Math.max(firstStored, oldestVisible())
    }

    /**
     * A key names one operation: its retry gets the stored message, even when the retry rebuilt its
     * payload (a fresh timestamp). Strict instances refuse a different payload (`undefined` here).
     */
    const sameOperation = (existing: MessageRow, row: MessageRow) =>
      options.idempotency === "retry" || (existing.type === row.type && existing.data === row.data && existing.metadata === row.metadata)

    const append = (
      input: AppendInput,
      actor: Actor,
      now: number,
    ): Effect.Effect<
      { readonly message: StoredMessage; readonly duplicate: boolean },
      PayloadTooLarge | IdempotencyConflict | StorageFailure | ConstraintViolation
    > =>
      Effect.gen(function* () {
        const { row, size, pruneBelow } = nextRow(input, actor, now)
        if (size > options.maxPayloadBytes) return yield* tooLarge(size)
        // Physically prune every `pruneEvery` messages, in the same transaction as the insert.
        const stored = yield* store.append(row, pruneBelow)
        if (stored._tag === "Existing") {
          const existing = stored.row
          if (sameOperation(existing, row)) return { message: toMessage(existing), duplicate: true }
          return yield* new IdempotencyConflict({
            idempotencyKey: input.idempotencyKey ?? "",
            message: `idempotencyKey: already used by ${existing.id} with a different type, data or metadata`,
          })
        }
        advance(row, pruneBelow !== undefined)
        return { message: toMessage(row), duplicate: false }
      })

    /**
     * `append` without a fiber, for the socket fast path: the store's append is a plain synchronous
     * call (SQLite; memory) whose typed outcome is an `Either`. Gives the stored message as the JSON
     * text its frames carry (the fast path sends nothing else, so no message object is built), or
     * `undefined` — having changed nothing — whenever `append` would fail (too large, strict
     * conflict, storage error), so the caller takes the ordinary path and reports that failure
     * exactly as it always did.
     */
    const appendNow = (input: AppendInput, actor: Actor, now: number): { readonly json: string; readonly duplicate: boolean } | undefined => {
      const { row, size, pruneBelow } = nextRow(input, actor, now)
      if (size > options.maxPayloadBytes) return undefined
      const stored = store.append(row, pruneBelow)
      if (Either.isLeft(stored)) return undefined
      const outcome = stored.right
      if (outcome._tag === "Existing") {
        const existing = outcome.row
        return sameOperation(existing, row) ? { json: rowJson(existing, isoTime(existing.created_at)), duplicate: true } : undefined
      }
      advance(row, pruneBelow !== undefined)
      return { json: rowJson(row, isoTime(now)), duplicate: false }
    }

    /**
     * One page of history. Newest-first by default; a cursor carries its direction, so a cursor
     * from `catchUpCursor` continues forward even when the caller passes no direction.
     *
     * `nextCursor` continues in the page's direction and is `null` once nothing more is there
     * (the oldest message, or the head). `catchUpCursor` is always there: a forward cursor from
     * the newest message this read has seen, from which a later call gets exactly what was
     * stored after it — including when the page ended at the head.
     */
    const page = (query: {
      readonly limit: number
      readonly cursor?: string | null | undefined
      readonly direction?: "backward" | "forward" | undefined
    }): Effect.Effect<HistoryPage, InvalidInput | StorageFailure> =>
      Effect.gen(function* () {
        const cursor = query.cursor === undefined || query.cursor === null || query.cursor === "" ? undefined : yield* decodeCursor(query.cursor)
        const direction = query.direction ?? (cursor?.d === "f" ? "forward" : "backward")
        const backward = direction === "backward"
        if (cursor !== undefined) {
          if (cursor.d !== (backward ? "b" : "f")) {
            return yield* new InvalidInput({ field: "cursor", message: `cursor: belongs to a page in the other direction (leave direction out to follow the cursor's)` })
          }
          // A cursor from an earlier epoch points into a history that no longer exists.
          if (cursor.e !== epoch) {
            return yield* new InvalidInput({ field: "cursor", message: "cursor: from an earlier life of this room (epoch changed)" })
          }
        }
        const from = cursor?.s
        const oldest = oldestVisible()
        // Ask for one more row than the page to know whether another page follows.
        const rows = yield* store.range({
          direction,
          from: from ?? (backward ? lastSeq + 1 : 0),
          oldest,
          limit: query.limit + 1,
        })
        const more = rows.length > query.limit
        const pageRows = more ? rows.slice(0, query.limit) : rows
        const last = pageRows[pageRows.length - 1]
        // Backward: the head when the first page was read (a cursor without it, from before `h`
        // existed, falls back to re-sending rather than skipping). Forward: the last message
        // returned, or (the page reached the head) the head itself, where what comes next starts.
        const head = backward ? (cursor?.h ?? (cursor === undefined ? lastSeq : cursor.s - 1)) : more && last !== undefined ? last.seq : Math.max(lastSeq, from ?? 0)
        return {
          messages: pageRows.map(toMessage),
          nextCursor: more && last !== undefined ? encodeCursor(epoch, last.seq, backward ? "b" : "f", backward ? head : undefined) : null,
          catchUpCursor: encodeCursor(epoch, head, "f"),
          epoch,
        }
      })

    /** Messages after a position, oldest first, for resume. `undefined` when the gap is no longer held. */
    const since = (seq: number, limit: number) =>
      Effect.gen(function* () {
        if (seq + 1 < oldestVisible() && seq < lastSeq) return undefined
        const rows = yield* store.after(seq, limit)
        return rows.map(toMessage)
      })

    const deleteAll = Effect.gen(function* () {
      const visible = yield* store.countFrom(oldestVisible())
      yield* store.saveFloor(lastSeq)
      yield* store.deleteAll
      firstStored = lastSeq + 1
      // Positions into the deleted history can no longer be resumed.
      epoch = newEpoch()
      yield* store.saveEpoch(epoch)
      return visible
    })

    /** Start a new life: positions from before are no longer resumable. */
    const renewEpoch = Effect.gen(function* () {
      epoch = newEpoch()
      yield* store.saveEpoch(epoch)
      return epoch
    })

    /**
     * Go back to a position (restore): later messages are removed and a new epoch starts, so a
     * client holding a position past it is told about the discontinuity instead of missing it.
     */
    const truncateAfter = (seq: number) =>
      Effect.gen(function* () {
        const removed = yield* store.deleteAfter(seq)
        // Rare (a restore): ask the store, since rows up to `seq` may have been pruned long ago.
        const min = yield* store.minSeq
        firstStored = min ?? seq + 1
        yield* store.saveFloor(seq)
        lastSeq = seq
        yield* renewEpoch
        return removed
      })

    /** Messages history shows now (stored and not past `historyLimit`), without a query. */
    const storedCount = () => Math.max(0, lastSeq - Math.max(firstStored, oldestVisible()) + 1)

    const count = Effect.suspend(() => store.countFrom(oldestVisible()))

    const lastCreatedAt = store.lastCreatedAt

    return {
      append,
      appendNow,
      page,
      since,
      byKey,
      deleteAll,
      renewEpoch,
      truncateAfter,
      count,
      storedCount,
      lastCreatedAt,
      lastSeq: () => lastSeq,
      epoch: () => epoch,
    }
  })

export type MessageLog = Effect.Effect.Success<ReturnType<typeof makeMessageLog>>
