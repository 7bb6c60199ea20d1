/**
 * The shard's straight path for its most common write: a batch of one insert into a realtime table.
 * From the request's input to the answer in one function: the checks, the defaults, the row and its
 * outbox row in one transaction. A table whose stream the shard hosts (`streamFrom: "shard"`, no
 * backlog) stores the outbox row published with its stream's buffer row, and the frame is sent once
 * it committed; any other realtime table's change is handed to the caller to send to its hub
 * (`DbShard`'s direct send or drain), as the general path hands its `drained` changes.
 *
 * Why a path beside the general one (`Writes.applyBatchNow`, `ShardStreams`, `hub/Changes`): at 100
 * writes/s the general path's many small functions never reach V8's optimizing tier, and each costs
 * its lower-tier price on every write (bench/notes/db.md, "dbturn"). Here a write runs a handful of
 * functions and builds its JSON texts (the row once, the buffered change and the frame around it)
 * without the intermediate objects.
 *
 * It takes a write only when it is sure to do exactly what the general path does; anything else
 * (another shape of batch, a table it does not host, any refusal, a failed transaction) answers
 * `undefined` with nothing changed, and the caller runs the general path, which then words the
 * refusal. `test/db-lone-insert.test.ts` holds the two equal: answers, typed errors, stored rows,
 * outbox rows, buffer rows and frames, byte for byte.
 *
 * @since 0.3.0
 */
import { Either } from "effect"
import type { RawExec, RawRun, SqlShape, SqlValue } from "../../services/Sql.js"
import type { ConnectionEntry } from "../../sockets/Connections.js"
import { sendFrame } from "../../sockets/CloseCodes.js"
import type { DatabaseDefinition, ResolvedTable } from "../Declaration.js"
import { checkRowShape, oversize } from "../Guards.js"
import { hubIdOf, matches, shardName, shardOf } from "../Placement.js"
import { storedValue, toSql, type DbRow } from "../Rows.js"
import { decodeInsert } from "../Table.js"
import { INSERT_OUTBOX, INSERT_OUTBOX_PUBLISHED, insertStatement, type DrainedChange, type WriteResult } from "../Writes.js"
import { isoTime } from "../../internal/IsoTime.js"
import { subscriberOf } from "../hub/HubSockets.js"
import type { HubStream } from "../hub/HubStream.js"

/** What a realtime table's lone insert needs besides the row, made once per table. */
interface RealtimeTable {
  readonly table: ResolvedTable
  readonly columns: ResolvedTable["columns"]
  readonly insert: string
  /** The stream's key column (the frame's `key`) and the outbox's `row_key` column. */
  readonly keyColumn: string
  readonly outboxKeyColumn: string
  /** `,"table":<name>,"event":"insert","old":null,"new":` of the buffered change. */
  readonly changeMiddle: string
  /** `,"namespace":…,"database":…,"table":…,"event":"insert","key":{"<key>":` of the frame. */
  readonly frameMiddle: string
}

export interface LoneInsertOptions {
  readonly definition: DatabaseDefinition
  readonly shard: number
  readonly sql: SqlShape
  /** Whether the shard's streams take this table's changes in the write's own transaction now (no backlog). */
  readonly takes: (table: ResolvedTable) => boolean
  /** The partition's stream, loaded on first use (a synchronous read: called inside the transaction). */
  readonly streamFor: (hub: string) => HubStream
  readonly subscribersOf: (hub: string) => ReadonlyArray<ConnectionEntry>
  /** Run in the write's turn before its transaction (the owed published marks). */
  readonly beforeCommit: () => void
  /**
   * For a change left to the hubs: whether the drain's retry job is armed early enough for a commit
   * at `now` (armed before the commit, so a change committed just before a crash is still delivered).
   * `false`: the write is not taken (the general path arms it, in the mailbox).
   */
  readonly drainArmed: (now: number) => boolean
  /** A committed change left to the hubs, in the write's turn (as the general path hands its `drained`). */
  readonly toHubs: (changes: ReadonlyArray<DrainedChange>) => void
}

/** One lone insert in flight: the transaction's input (its body is made once, not per write). */
interface Pending {
  target: RealtimeTable
  params: Array<SqlValue>
  hub: string
  /** The outbox row's `hubs` column: `[hub]` as JSON. */
  hubs: string
  outboxKey: string
  next: string
  requestId: string
  now: number
  outboxId: number
  settle: () => number
}

/** A change left to the hubs, as the general path builds it (`Writes.BatchCommit.outbox`). */
const drainedChange = (shard: number, pending: Pending, row: DbRow): DrainedChange => ({
  hubs: [pending.hub],
  chars: pending.next.length,
  change: { shard, outboxId: pending.outboxId, table: pending.target.table.name, event: "insert", old: null, new: row, requestId: pending.requestId, createdAt: pending.now },
})

/**
 * The straight path: `(input, now, newRequestId) => results | undefined`. `undefined`: not taken,
 * nothing stored, sent or changed; run the general path.
 */
export const makeLoneInsert = (options: LoneInsertOptions) => {
  const { definition, shard, sql, takes, streamFor, subscribersOf, beforeCommit, drainArmed, toHubs } = options
  const maxRowBytes = definition.maxRowBytes
  const shardKey = String(shard)
  const changeStart = `{"shard":${JSON.stringify(shard)},"outboxId":`
  // The frame's tail after the row: its shard name is the same for every write of this shard.
  const frameShard = `,"shard":${JSON.stringify(shardName(shard))},"requestId":`
  const namespacePart = definition.namespace === undefined ? "" : `,"namespace":${JSON.stringify(definition.namespace)}`

  const realtimeTables = new Map<string, RealtimeTable>()
  for (const table of definition.tables.values()) {
    if (table.realtime === undefined) continue
    const keyColumn = table.realtime.key ?? table.primaryKey ?? "id"
    realtimeTables.set(table.name, {
      table,
      columns: table.columns,
      insert: insertStatement(table),
      keyColumn,
      outboxKeyColumn: table.realtime.key,
      changeMiddle: `,"table":${JSON.stringify(table.name)},"event":"insert","old":null,"new":`,
      frameMiddle: `${namespacePart},"database":${JSON.stringify(definition.name)},"table":${JSON.stringify(table.name)},"event":"insert","key":{${JSON.stringify(keyColumn)}:`,
    })
  }

  /** The transaction of a change left to the hubs: the row and its outbox row, pending. */
  const commitDrained = (exec: RawExec, run: RawRun, pending: Pending): void => {
    const { target, next, now } = pending
    run(target.insert, ...pending.params)
    pending.outboxId = exec<{ id: number }>(INSERT_OUTBOX, target.table.name, "insert", pending.outboxKey, null, next, pending.requestId, now, pending.hubs, next.length)[0]!.id
  }

  /** The transaction of a hosted change: the row, its outbox row (published: the stream takes it here) and the stream's buffer row. */
  const commitHosted = (exec: RawExec, run: RawRun, pending: Pending): void => {
    const { target, next, requestId, now } = pending
    run(target.insert, ...pending.params)
    const id = exec<{ id: number }>(INSERT_OUTBOX_PUBLISHED, target.table.name, "insert", pending.outboxKey, null, next, requestId, now, pending.hubs, next.length, now)[0]!.id
    pending.outboxId = id
    // The change as `JSON.stringify` writes a `ShardChange` (keys in its order), around the row's JSON made once.
    const change = `${changeStart}${id}${target.changeMiddle}${next},"requestId":${JSON.stringify(requestId)},"createdAt":${now}}`
    pending.settle = streamFor(pending.hub).appendOneIn(exec, shard, id, change)
  }

  return (input: unknown, now: number, newRequestId: () => string): ReadonlyArray<WriteResult> | undefined => {
    // The batch's shape as `WriteBatch` decodes it: one insert, an optional request id of 1–128 characters.
    if (input === null || typeof input !== "object") return undefined
    const { writes, requestId: given } = input as { readonly writes?: unknown; readonly requestId?: unknown }
    if (!Array.isArray(writes) || writes.length !== 1) return undefined
    if (given !== undefined && (typeof given !== "string" || given.length < 1 || given.length > 128)) return undefined
    const write = writes[0] as { readonly op?: unknown; readonly table?: unknown; readonly row?: unknown } | null
    if (write === null || typeof write !== "object" || write.op !== "insert" || typeof write.table !== "string") return undefined
    const target = realtimeTables.get(write.table)
    if (target === undefined) return undefined
    // The general path's checks, in its order; a refusal is left to it (it words it).
    if (checkRowShape(write.row, "writes.0.row", maxRowBytes) !== undefined) return undefined
    const decoded = decodeInsert(target.table.table)(write.row)
    if (Either.isLeft(decoded)) return undefined
    // Defaults filled, bound values and the row as SQLite stores it, in one pass over the columns.
    const columns = target.columns
    const values = decoded.right
    const params: Array<SqlValue> = new Array(columns.length)
    const row: DbRow = {}
    let placedBy: unknown = null
    for (let i = 0; i < columns.length; i++) {
      const [name, spec] = columns[i]
      const given = values[name]
      const value = given !== undefined ? given : spec.default !== undefined ? spec.default : null
      if (name === target.table.shardColumn) placedBy = value
      params[i] = toSql(spec, value)
      row[name] = storedValue(spec, value)
    }
    if (shardOf(placedBy, definition.shards) !== shard) return undefined
    const next = JSON.stringify(row)
    // Within maxRowBytes is within the batch's limit too (`batchLimit` is at least maxRowBytes).
    if (oversize(next, maxRowBytes) !== undefined) return undefined

    const hub = hubIdOf(target.table, row)
    const requestId = given ?? newRequestId()
    const pending: Pending = {
      target,
      params,
      hub,
      hubs: JSON.stringify([hub]),
      outboxKey: JSON.stringify(row[target.outboxKeyColumn]),
      next,
      requestId,
      now,
      outboxId: 0,
      settle: noSettle,
    }
    // Taken by its stream here, or left to the hubs (a table streamed by hubs, or a hosted one while a backlog is drained).
    const inline = takes(target.table)
    if (!inline && !drainArmed(now)) return undefined
    beforeCommit()
    // A constraint (or any storage failure) rolled it back: the general path runs it again and answers the typed error.
    if (Either.isLeft(sql.transactionNow(inline ? commitHosted : commitDrained, pending))) return undefined
    if (!inline) {
      toHubs([drainedChange(shard, pending, row)])
      return [{ op: "insert", table: target.table.name, row }]
    }

    // Committed: the stream follows, and the partition's subscribers get the frame in this turn.
    const seq = pending.settle()
    if (seq !== 0) {
      const id = pending.outboxId
      let frame: string | undefined
      for (const entry of subscribersOf(hub)) {
        const subscriber = subscriberOf(entry.attachment)
        if (subscriber === null) continue
        // `Changes.deliveryFor` for an insert: past the subscriber's snapshot, its filters match the row, it takes inserts.
        const watermark = subscriber.watermarks?.[shardKey]
        if ((watermark !== undefined && id <= watermark) || !matches(row, subscriber.filters) || !subscriber.events.includes("insert")) continue
        // `changeFrame` + `encodeDbFrame` for an insert, made once for all its subscribers.
        // (The key column is the primary key or a not-null unique column, and the row holds every column: never undefined.)
        frame ??= `{"type":"database.change","seq":${seq}${target.frameMiddle}${JSON.stringify(row[target.keyColumn])}},"old":null,"new":${next}${frameShard}${JSON.stringify(requestId)},"createdAt":"${isoTime(now)}"}`
        sendFrame(entry.socket, frame)
      }
    }
    return [{ op: "insert", table: target.table.name, row }]
  }
}

const noSettle = () => 0
