/**
 * One partition's change stream: what a table hub object holds for its partition, and what a shard
 * holds for each partition it hosts itself (`streamFrom: "shard"`). The same code either way.
 *
 * `apply` takes a shard's changes exactly once: per shard it remembers the highest outbox id applied,
 * drops anything at or below it (a re-sent batch after a restart or a failed round), and gives each
 * new change the next `seq`, all in one transaction with the bounded buffer used for `since` resume.
 * Fan-out to the stream's subscribers happens after the commit.
 *
 * @since 0.2.0
 */
import { Effect, Either } from "effect"
import { InvalidInput } from "../../RealtimeError.js"
import type { ConnectionEntry } from "../../sockets/Connections.js"
import { sendFrame } from "../../sockets/CloseCodes.js"
import type { BufferedChange, HubChangeStoreShape, Trimmed, WriteError } from "../../storage/HubChangeStore.js"
import type { RawExec } from "../../services/Sql.js"
import type { DatabaseDefinition } from "../Declaration.js"
import type { PublishChanges, ShardChange } from "../Protocol.js"
import { deliveryFor, frameCache, gapFrameFor } from "./Changes.js"
import { subscriberOf } from "./HubSockets.js"

/**
 * Changes a buffer may hold past `bufferSize` before it is trimmed back to `bufferSize`: a busy
 * stream trims once per that many changes instead of once per change (a trim reads the changes it
 * removes, raises their high water and deletes them: three statements). A resume may find up to
 * that many more changes than `bufferSize`, never fewer.
 */
export const trimSlack = (bufferSize: number) => Math.floor(bufferSize / 32)

/** Characters of buffered changes a `since` resume may replay; further behind gets `resync`. */
export const REPLAY_CHARS = 16 * 1024 * 1024

export interface Applied {
  readonly applied: number
  readonly duplicates: number
  readonly seq: number
}

export interface HubStream {
  /** The last seq given to a change (0: none yet). */
  readonly seq: () => number
  /** Changes in the buffer now. */
  readonly buffered: () => number
  /** A shard's changes applied once each, buffered, then fanned out to `subscribers()`. */
  readonly apply: (input: PublishChanges) => Effect.Effect<Applied, InvalidInput | WriteError>
  /** `apply` synchronously (a hub's publish in the RPC's own turn): no fiber, no Effect run. */
  readonly applyNow: (input: PublishChanges) => Either.Either<Applied, InvalidInput | WriteError>
  /**
   * Changes buffered inside the caller's SQLite transaction (they must be applied in order after
   * everything applied so far); the answer, run once that transaction committed, updates the
   * stream and fans the changes out.
   */
  readonly appendIn: (exec: RawExec, changes: ReadonlyArray<ShardChange>) => () => Applied
  /**
   * `appendIn` for one change already encoded (`json` is `JSON.stringify` of the change): a shard's
   * lone insert (`shard/LoneInsert.ts`), which fans out itself. The answer, run once the caller's
   * transaction committed, updates the stream and answers the change's seq; 0 when the change was
   * a duplicate (nothing buffered, nothing to deliver).
   */
  readonly appendOneIn: (exec: RawExec, shard: number, outboxId: number, json: string) => () => number
  /** Buffered changes after `since`, or the reason they cannot all be replayed. */
  readonly replay: (since: number) => Effect.Effect<
    { readonly resync: "ahead" | "behind" | undefined; readonly changes: ReadonlyArray<{ readonly seq: number; readonly change: ShardChange }> },
    never
  >
}

/** A duplicate's settle: nothing buffered, no seq. */
const noSeq = () => 0

/** Load a stream's position from its buffer. `subscribers`: the open sockets of this stream only. */
export const loadHubStream = (options: {
  readonly definition: DatabaseDefinition
  readonly store: Omit<HubChangeStoreShape, "partition">
  readonly subscribers: () => ReadonlyArray<ConnectionEntry>
}) =>
  Effect.gen(function* () {
    const { definition, store, subscribers } = options
    const buffered = yield* Effect.orDie(store.load)
    let seq = buffered.lastSeq ?? 0
    /** The buffer in memory: its first seq and its characters, so an append trims without scanning it. */
    let firstBuffered = buffered.firstSeq ?? seq + 1
    let bufferedChars = buffered.chars
    /**
     * Per shard, the highest outbox id applied: the buffer's own, or the trimmed high water the store
     * keeps (written only when a trim removes a shard's changes, not once per publish).
     */
    const highWater = new Map<number, number>()
    for (const row of buffered.highWater) highWater.set(row.shard, row.outboxId)

    const fanOut = (applied: ReadonlyArray<{ readonly seq: number; readonly change: ShardChange }>) => {
      const open = subscribers()
      if (open.length === 0) return
      for (const { seq: at, change } of applied) {
        const frameOf = frameCache(definition, change, at)
        for (const entry of open) {
          const subscriber = subscriberOf(entry.attachment)
          if (subscriber === null) continue
          if (change.parked === true) {
            const gap = gapFrameFor(change, at, subscriber)
            if (gap !== undefined) sendFrame(entry.socket, gap)
            continue
          }
          const delivery = deliveryFor(change, subscriber)
          if (delivery !== undefined) sendFrame(entry.socket, frameOf(delivery))
        }
      }
    }

    /** What applying these changes would do, from the memory view (nothing stored or changed yet). */
    const plan = (changes: ReadonlyArray<ShardChange>) => {
      let duplicates = 0
      const seen = new Map<number, number>()
      const applied: Array<{ seq: number; change: ShardChange }> = []
      const rows: Array<BufferedChange> = []
      let chars = bufferedChars
      let next = seq
      for (const change of changes) {
        const last = seen.get(change.shard) ?? highWater.get(change.shard) ?? 0
        if (change.outboxId <= last) {
          duplicates++
          continue
        }
        next++
        const json = JSON.stringify(change)
        rows.push({ seq: next, shard: change.shard, outboxId: change.outboxId, change: json })
        seen.set(change.shard, change.outboxId)
        chars += json.length
        applied.push({ seq: next, change })
      }
      return { duplicates, seen, applied, rows, chars, trim: trimFor(next, chars) }
    }

    /**
     * The buffer keeps the newest changes for resume, bounded in count (`bufferSize`, trimmed past
     * `trimSlack` more) and in characters (`bufferBytes`): what to trim once it holds up to `last`, `chars`.
     */
    const trimFor = (last: number, chars: number) => {
      const byCount = last - definition.bufferSize
      return {
        through: byCount >= firstBuffered + trimSlack(definition.bufferSize) ? byCount : 0,
        // Only when over: finding where the budget is passed reads the buffer's sizes.
        maxChars: chars > definition.bufferBytes ? definition.bufferBytes : undefined,
      }
    }

    /** The plan stored (`trimmed`: what its append removed): the memory view follows, then the subscribers get the changes. */
    const settle = (planned: ReturnType<typeof plan>, trimmed: Trimmed | undefined): Applied => {
      for (const [shard, outboxId] of planned.seen) highWater.set(shard, outboxId)
      if (planned.applied.length > 0) {
        seq = planned.applied[planned.applied.length - 1].seq
        bufferedChars = planned.chars - (trimmed?.chars ?? 0)
        if (trimmed?.through !== undefined) firstBuffered = trimmed.through + 1
      }
      fanOut(planned.applied)
      return { applied: planned.applied.length, duplicates: planned.duplicates, seq }
    }

    const applyNow = (input: PublishChanges): Either.Either<Applied, InvalidInput | WriteError> => {
      const from = input.changes[0]?.shard
      if (input.after !== undefined && from !== undefined && (highWater.get(from) ?? 0) < input.after) {
        // A pipelined batch whose predecessor was not applied (it failed): applying it would skip that one.
        return Either.left(new InvalidInput({ field: "after", message: `after: outbox ${input.after} of shard ${from} is not applied here yet; resend in order` }))
      }
      const planned = plan(input.changes)
      if (planned.rows.length === 0) return Either.right(settle(planned, undefined))
      // A failed append leaves the memory view as it was.
      return Either.map(store.appendNow(planned.rows, planned.trim), (trimmed) => settle(planned, trimmed))
    }

    /**
     * Changes buffered inside the caller's transaction (a shard's write: the change is stored in the
     * same commit as its row). Answers what to run once that transaction committed: the memory view
     * follows and the subscribers get the changes. Nothing to run when it rolled back.
     */
    const appendIn = (exec: RawExec, changes: ReadonlyArray<ShardChange>): (() => Applied) => {
      const planned = plan(changes)
      const trimmed = planned.rows.length > 0 ? store.appendWith(exec, planned.rows, planned.trim) : undefined
      return () => settle(planned, trimmed)
    }

    /** `plan` + `store.appendWith` + `settle` for one change, without the lists (the caller fans out). */
    const appendOneIn = (exec: RawExec, shard: number, outboxId: number, json: string): (() => number) => {
      if (outboxId <= (highWater.get(shard) ?? 0)) return noSeq
      const at = seq + 1
      const chars = bufferedChars + json.length
      const trimmed = store.appendWith(exec, [{ seq: at, shard, outboxId, change: json }], trimFor(at, chars))
      return () => {
        highWater.set(shard, outboxId)
        seq = at
        bufferedChars = chars - trimmed.chars
        if (trimmed.through !== undefined) firstBuffered = trimmed.through + 1
        return at
      }
    }

    const replay = (since: number) =>
      Effect.gen(function* () {
        if (since > seq) return { resync: "ahead" as const, changes: [] }
        // A replay is sent before ready, in one go: bounded like every batch (1 MB rows make a 1,000-change buffer large).
        const chars = yield* Effect.orDie(store.charsAfter(since))
        if (chars > REPLAY_CHARS) return { resync: "behind" as const, changes: [] }
        const rows = yield* Effect.orDie(store.after(since))
        if (since < seq && (rows.length === 0 || rows[0].seq !== since + 1)) return { resync: "behind" as const, changes: [] }
        return { resync: undefined, changes: rows.map((row) => ({ seq: row.seq, change: JSON.parse(row.change) as ShardChange })) }
      })

    return {
      seq: () => seq,
      buffered: () => (seq === 0 ? 0 : seq - firstBuffered + 1),
      // An Either is an Effect: the mailbox path runs the same synchronous code.
      apply: applyNow,
      applyNow,
      appendIn,
      appendOneIn,
      replay,
    } satisfies HubStream
  })
