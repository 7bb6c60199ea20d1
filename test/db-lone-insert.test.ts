/**
 * The shard's straight path for a lone insert into a realtime table (`shard/LoneInsert.ts`) must do
 * exactly what the general path (`prepareBatch` + `applyBatchNow` + the stream's `appendIn` and
 * fan-out, or the changes handed to the hubs) does. Property test against real SQLite in a Durable Object: each generated request runs
 * first through the straight path as the shard runs it (falling back to the general path when it
 * declines), inside an outer transaction that is then rolled back, and then through the general
 * path alone, committed. Both must leave the same answer or typed error, the same user rows, outbox
 * rows and stream buffer rows (every column, byte for byte), send the same frames to the same
 * subscribers and hand the same changes to the hubs, with or without a backlog and an armed drain, over generated rows of every column kind with their edges, duplicate keys, unknown
 * tables and columns, bad values, `__proto__` keys, rows over `maxRowBytes` and bad request ids.
 */
import { env, runInDurableObject } from "cloudflare:test"
import { Effect, Either } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { integer, real, text, timestamp } from "../src/db/Columns.js"
import { everyKind, everyKindValues, withoutAbsent } from "./db-column-kinds.js"
import { resolveDeclaration, type ResolvedTable } from "../src/db/Declaration.js"
import { loadHubStream, type HubStream } from "../src/db/hub/HubStream.js"
import { OUTBOX_TABLE } from "../src/db/Names.js"
import { DbShardOps } from "../src/db/Ops.js"
import { makeLoneInsert } from "../src/db/shard/LoneInsert.js"
import { planMigrations } from "../src/db/shard/Migrations.js"
import { ident } from "../src/db/Rows.js"
import { table } from "../src/db/Table.js"
import { applyBatchNow, batchLimit, changesByHub, prepareBatch, type InlineStreams } from "../src/db/Writes.js"
import * as Sql from "../src/services/Sql.js"
import type { ConnectionEntry } from "../src/sockets/Connections.js"
import { makeSqlite, partitionMigrations } from "../src/storage/HubChangeStore.js"
import { metaMigration } from "../src/storage/Meta.js"

const kinds = table({ id: text().primaryKey(), tenant: text().notNull(), ...everyKind })
// An INTEGER PRIMARY KEY (SQLite's rowid), partitioned by a timestamp, its stream keyed by the primary key.
const numbered = table({ n: integer().primaryKey(), amount: real().notNull(), stamp: timestamp().notNull() })
// A column named as a key the row guard refuses (a valid identifier): rows that set it are refused.
const oddly = table({ id: text().primaryKey(), tenant: text().notNull(), prototype: text() })
// Streamed by hubs (the default): its change is handed to the hubs.
const plain = table({ id: text().primaryKey(), body: text() })
// Not realtime: always the general path.
const notes = table({ id: text().primaryKey(), body: text() })

const definition = resolveDeclaration({
  name: "lone_insert_probe",
  schema: { kinds, numbered, oddly, plain, notes },
  realtime: {
    tables: {
      kinds: { filters: ["tenant", "label", "done"], requiredFilters: ["tenant"], streamFrom: "shard" },
      numbered: { filters: ["stamp"], requiredFilters: ["stamp"], streamFrom: "shard" },
      oddly: { filters: ["tenant"], requiredFilters: ["tenant"], streamFrom: "shard" },
      plain: true,
    },
  },
  // Two: a row placed on the other shard is refused (the test plays shard 0).
  shards: 2,
  // Small, so that generated rows go over it.
  maxRowBytes: 1024,
})

const surrogates = ["\uD800", "a\uDC00b", "\uDBFF\uDFFF", "x\uD83D", "\u0000", "é\u0301", '"q\\', ""]
const anyText = fc.oneof(fc.string({ unit: "binary", maxLength: 30 }), fc.constantFrom(...surrogates))
const safeInteger = fc.oneof(fc.integer(), fc.constantFrom(-0, 0, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER))
const finiteReal = fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constantFrom(-0, 5e-324, 1.7976931348623157e308, 0.1 + 0.2, 1e21))
const epochMs = fc.oneof(fc.constantFrom(0, -0, 1, 2), fc.nat({ max: Number.MAX_SAFE_INTEGER }))
const jsonValue = fc.oneof(fc.jsonValue({ maxDepth: 2 }).map((value) => JSON.parse(JSON.stringify(value)) as unknown), fc.constantFrom<unknown>({ zero: -0, s: "\uD800" }, [], {}, -0, null))

const kindsRow = fc
  .record({
    // Few ids and tenants: duplicate keys (a constraint) and several partitions with subscribers.
    id: fc.oneof({ weight: 1, arbitrary: fc.constantFrom("a", "b") }, { weight: 6, arbitrary: fc.string({ minLength: 1, maxLength: 12 }) }),
    tenant: fc.constantFrom("t1", "t3", "t2"),
    ...everyKindValues({ text: anyText, label: fc.oneof(fc.constantFrom("x", "y"), anyText), integer: safeInteger, real: finiteReal, json: jsonValue, time: epochMs }),
  })
  .map(withoutAbsent)
const numberedRow = fc.record({ n: fc.oneof({ weight: 1, arbitrary: fc.integer({ min: -1, max: 1 }) }, { weight: 4, arbitrary: safeInteger }), amount: finiteReal, stamp: fc.constantFrom(1, 3, 0) })

/** A row, or one of the ways a row is refused. */
const anyRow = fc.oneof(
  { weight: 6, arbitrary: kindsRow.map((row) => ({ table: "kinds", row })) },
  { weight: 2, arbitrary: numberedRow.map((row) => ({ table: "numbered", row: row as Record<string, unknown> })) },
  { weight: 1, arbitrary: kindsRow.map((row) => ({ table: "oddly", row: { id: row.id, tenant: row.tenant, ...(row.note === undefined ? {} : { prototype: row.note }) } as Record<string, unknown> })) },
  { weight: 2, arbitrary: kindsRow.map((row) => ({ table: "plain", row: { id: row.id, body: row.label } as Record<string, unknown> })) },
  { weight: 1, arbitrary: kindsRow.map((row) => ({ table: "notes", row: { id: row.id, body: row.label } as Record<string, unknown> })) },
  { weight: 1, arbitrary: kindsRow.map((row) => ({ table: "nope", row })) },
  { weight: 1, arbitrary: kindsRow.map((row) => ({ table: "kinds", row: { ...row, extra: 1 } })) },
  { weight: 1, arbitrary: kindsRow.map((row) => ({ table: "kinds", row: { ...row, count: "many" } })) },
  { weight: 1, arbitrary: kindsRow.map((row) => ({ table: "kinds", row: { ...row, label: "L".repeat(990) } })) },
  { weight: 1, arbitrary: kindsRow.map((row) => ({ table: "kinds", row: { ...row, data: { deep: "é".repeat(480) } } })) },
  { weight: 1, arbitrary: kindsRow.map((row) => ({ table: "kinds", row: { ...(JSON.parse('{"__proto__":{"x":1}}') as object), ...row } })) },
  { weight: 1, arbitrary: kindsRow.map((row) => ({ table: "kinds", row: { tenant: row.tenant, label: row.label } })) },
  // JSON the column's Schema takes but the row guard refuses: a forbidden key inside, or nested too deep.
  { weight: 1, arbitrary: kindsRow.map((row) => ({ table: "kinds", row: { ...row, data: { list: [JSON.parse('{"constructor":1}')] } } })) },
  { weight: 1, arbitrary: kindsRow.map((row) => ({ table: "kinds", row: { ...row, data: Array.from({ length: 70 }).reduce<unknown>((inner) => [inner], 1) } })) },
)
const request = fc.record({
  rows: fc.oneof({ weight: 8, arbitrary: anyRow.map((row) => [row]) }, { weight: 1, arbitrary: fc.array(anyRow, { minLength: 2, maxLength: 3 }) }),
  requestId: fc.oneof({ weight: 6, arbitrary: fc.constant(undefined) }, { weight: 3, arbitrary: fc.string({ minLength: 1, maxLength: 20 }) }, { weight: 1, arbitrary: fc.constantFrom("", "r".repeat(129), 7) }),
  // The commit time: repeats and returns too (the frame's ISO text is cached by time).
  now: fc.constantFrom(1_700_000_000_000, 1_700_000_000_001, 1_700_000_000_000, 0, 253_402_300_799_999),
  // Changes committed before a restart still pending (hosted streams take nothing inline), and whether the drain's retry job is armed.
  backlog: fc.oneof({ weight: 4, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  armed: fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
})

/** Every difference told apart (types, `-0`, key order), as ASCII (a failure's report crosses a WebSocket). */
const exactly = (value: unknown) => JSON.stringify(value, (_key, item: unknown) => (Object.is(item, -0) ? "(number -0)" : item)).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)
const answerOf = (answer: Either.Either<unknown, { readonly _tag: string; readonly message: string }>) =>
  exactly(Either.isRight(answer) ? { ok: answer.right } : { error: { ...answer.left, tag: answer.left._tag, message: answer.left.message } })

const shards = (env as unknown as { REALTIME_DB_SHARDS: DurableObjectNamespace }).REALTIME_DB_SHARDS
const ROLLBACK = new Error("roll back the straight path's run")

describe("a lone insert's straight path", () => {
  it("agrees with the general path: answers, typed errors, rows, outbox and buffer rows, frames", async () => {
    await runInDurableObject(shards.get(shards.newUniqueId()), async (_instance, state) => {
      const sql = Sql.makeSql(state.storage)
      const plan = planMigrations(definition, [], undefined)
      if ("refused" in plan) throw new Error(plan.refused)
      Effect.runSync(Sql.migrate(sql, [metaMigration, ...plan.migrations, ...partitionMigrations]))
      const store = makeSqlite(sql)
      const dump = () =>
        exactly(
          [...definition.tables.keys(), OUTBOX_TABLE, "hub_partition_changes", "hub_partition_applied"].map((name) => state.storage.sql.exec(`SELECT * FROM ${ident(name)}`).toArray()),
        )

      const flags = { backlog: false, armed: true }
      /** One side's streams and subscribers: four per partition (all inserts; a label filter; no inserts; a snapshot at outbox 5). */
      const side = () => {
        const sent: Array<string> = []
        const subscribers = new Map<string, ReadonlyArray<ConnectionEntry>>()
        const subscribersOf = (hub: string) => {
          let list = subscribers.get(hub)
          if (list === undefined) {
            const [, required] = JSON.parse(hub) as [string, Record<string, unknown>]
            const entry = (name: string, data: Record<string, unknown>): ConnectionEntry => ({
              id: name,
              socket: { send: (frame: string) => void sent.push(`${name} ${frame}`) } as unknown as WebSocket,
              attachment: { connectionId: name, data: { hub, events: ["insert", "update", "delete"], ...data } } as unknown as ConnectionEntry["attachment"],
            })
            list = [
              entry("all", { filters: required }),
              entry("labelled", { filters: { ...required, label: "x" }, events: ["insert"] }),
              entry("no-inserts", { filters: required, events: ["update", "delete"] }),
              entry("snapshot", { filters: required, watermarks: { "0": 5 } }),
            ]
            subscribers.set(hub, list)
          }
          return list
        }
        const streams = new Map<string, HubStream>()
        const streamFor = (hub: string) => {
          let stream = streams.get(hub)
          if (stream === undefined) {
            stream = Effect.runSync(loadHubStream({ definition, store: store.partition(hub), subscribers: () => subscribersOf(hub) }))
            streams.set(hub, stream)
          }
          return stream
        }
        const takes = (table: ResolvedTable) => !flags.backlog && table.realtime?.streamFrom === "shard"
        // What the shard hands to its hubs (its direct send or drain), recorded beside the frames.
        const toHubs = (changes: ReadonlyArray<unknown>) => void sent.push(`to hubs ${exactly(changes)}`)
        // What the shard runs when the straight path declines: decode, prepare, commit, deliver (DbShard's `writeNow`).
        const inline: InlineStreams = {
          shard: 0,
          takes,
          append: (exec, changes) => {
            const settle = [...changesByHub(changes)].map(([hub, list]) => streamFor(hub).appendIn(exec, list))
            return () => settle.forEach((run) => run())
          },
        }
        const general = (input: unknown, now: number, requestId: string): Either.Either<unknown, { readonly _tag: string; readonly message: string }> => {
          const batch = DbShardOps.write.decodePayloadEither(input)
          if (Either.isLeft(batch)) return batch
          const prepared = prepareBatch(definition, batch.right, 0)
          if (Either.isLeft(prepared)) return prepared
          const meta = { shard: 0, requestId: batch.right.requestId ?? requestId, now, maxRowBytes: definition.maxRowBytes, maxBatchBytes: batchLimit(definition), inline }
          const committed = applyBatchNow(sql, prepared.right, meta)
          if (Either.isLeft(committed)) return committed
          committed.right.delivered()
          if (committed.right.drained.length > 0) toHubs(committed.right.drained)
          return Either.right(committed.right.results)
        }
        return { sent, streams, streamFor, subscribersOf, takes, toHubs, general }
      }

      const straightSide = side()
      const generalSide = side()
      let taken = 0
      const lone = makeLoneInsert({
        definition,
        shard: 0,
        sql,
        takes: straightSide.takes,
        streamFor: straightSide.streamFor,
        subscribersOf: straightSide.subscribersOf,
        beforeCommit: () => {},
        drainArmed: () => flags.armed,
        toHubs: straightSide.toHubs,
      })
      let n = 0
      fc.assert(
        fc.property(request, ({ rows, requestId, now, backlog, armed }) => {
          flags.backlog = backlog
          flags.armed = armed
          const input = { writes: rows.map(({ table, row }) => ({ op: "insert", table, row })), ...(requestId === undefined ? {} : { requestId }) }
          const generated = `req-${n++}`
          // The straight path as the shard runs it, then rolled back with everything it stored.
          let straight = { taken: false, answer: "", stored: "", frames: [] as Array<string> }
          try {
            state.storage.transactionSync(() => {
              const from = straightSide.sent.length
              const answered = lone(input, now, () => generated)
              if (answered !== undefined) taken++
              const answer = answered !== undefined ? Either.right(answered) : straightSide.general(input, now, generated)
              straight = { taken: answered !== undefined, answer: answerOf(answer), stored: dump(), frames: straightSide.sent.slice(from) }
              throw ROLLBACK
            })
          } catch (error) {
            if (error !== ROLLBACK) throw error
          }
          const from = generalSide.sent.length
          const committed = generalSide.general(input, now, generated)
          const answer = answerOf(committed)
          // It declines only what the general path refuses, a table that is not realtime, or a change for the hubs while the drain is not armed.
          const target = rows.length === 1 ? definition.tables.get(rows[0].table) : undefined
          const drained = target?.realtime !== undefined && (backlog || target.realtime.streamFrom !== "shard")
          if (target?.realtime !== undefined && Either.isRight(committed)) expect(straight.taken).toBe(!drained || armed)
          if (target !== undefined && (target.realtime === undefined || (drained && !armed))) expect(straight.taken).toBe(false)
          expect(straight.answer).toBe(answer)
          expect(straight.stored).toBe(dump())
          expect(straight.frames.map(exactly)).toEqual(generalSide.sent.slice(from).map(exactly))
          // The streams' memory views agree too: the next change gets the same seq on both sides.
          for (const [hub, stream] of generalSide.streams) expect([hub, straightSide.streamFor(hub).seq(), straightSide.streamFor(hub).buffered()]).toEqual([hub, stream.seq(), stream.buffered()])
        }),
        { numRuns: 400 },
      )
      // The straight path did take most lone inserts, and declined the rest.
      expect(taken).toBeGreaterThan(60)
      expect(generalSide.sent.length).toBeGreaterThan(100)
    })
  })
})
