/**
 * An insert answers (and streams) the row it built from the decoded input, not a RETURNING of the
 * stored row: the two must be equal. Property test against real SQLite in a Durable Object: for
 * rows of every column kind, edges included (unpaired surrogates, NUL, -0, the safe-integer
 * bounds, subnormal and huge reals, nested JSON, defaults, nulls), the row `applyBatchNow` answers
 * equals the row read back from SQLite and decoded as every read does (`decodeRow`): same keys in
 * the same order, same types, same values (`-0` told from `0`).
 */
import { env, runInDurableObject } from "cloudflare:test"
import { Either } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { integer, real, text, timestamp } from "../src/db/Columns.js"
import { everyKind, everyKindValues, withoutAbsent } from "./db-column-kinds.js"
import { resolveDeclaration, type ResolvedTable } from "../src/db/Declaration.js"
import { createTable } from "../src/db/shard/Migrations.js"
import { decodeRow, ident, selectList } from "../src/db/Rows.js"
import { table } from "../src/db/Table.js"
import { applyBatchNow, MAX_BATCH_BYTES, prepareBatch, type WriteOp } from "../src/db/Writes.js"
import { makeSql } from "../src/services/Sql.js"

const kinds = table({ id: text().primaryKey(), ...everyKind })
// An INTEGER PRIMARY KEY is SQLite's rowid: its own conversions apply to the key itself.
const numbered = table({ n: integer().primaryKey(), amount: real().notNull(), stamp: timestamp().notNull() })

const definition = resolveDeclaration({ name: "stored_row_probe", schema: { kinds, numbered }, shards: 1 })

const surrogates = ["\uD800", "a\uDC00b", "\uDBFF\uDFFF", "\uDFFF\uD800", "x\uD83D", "\u0000", "nul\u0000inside", "é\u0301", "\uFFFD", ""]
const anyText = fc.oneof(fc.string({ unit: "binary", maxLength: 40 }), fc.constantFrom(...surrogates))
const safeInteger = fc.oneof(fc.integer(), fc.constantFrom(-0, 0, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 2 ** 31, -(2 ** 31) - 1))
const finiteReal = fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constantFrom(-0, 5e-324, -5e-324, 1.7976931348623157e308, 2 ** 53 + 2, 0.1 + 0.2, 1, -1.5))
const epochMs = fc.oneof(fc.nat({ max: Number.MAX_SAFE_INTEGER }), fc.constantFrom(-0, 0, Number.MAX_SAFE_INTEGER))
/** Keys the row guard refuses anywhere in a row (`Guards.checkRowShape`): fast-check's keys include them now and then. */
const refusedKey = /"(?:__proto__|constructor|prototype)":/
const jsonValue = fc.oneof(
  fc
    .jsonValue({ maxDepth: 3 })
    .map((value) => JSON.parse(JSON.stringify(value)) as unknown)
    // This test takes valid rows only (refused ones are db-lone-insert's and row-shape's).
    .filter((value) => !refusedKey.test(JSON.stringify(value))),
  fc.constantFrom<unknown>({ zero: -0, list: [-0, 1e21, "\uD800"] }, [], {}, "", 0, -0, false, null, { "2": 1, a: { "1": [] } }),
)
/**
 * A row as ASCII text that tells every difference apart: types, key order, `-0` from `0`, and
 * strings escaped (a failure's report crosses the test pool's WebSocket, which refuses unpaired surrogates).
 */
const exactly = (row: unknown) => JSON.stringify(row, (_key, value: unknown) => (Object.is(value, -0) ? "(number -0)" : value))

const kindsRow = fc
  .record(everyKindValues({ text: anyText, integer: safeInteger, real: finiteReal, json: jsonValue, time: epochMs }))
  .map(withoutAbsent)
const numberedRow = fc.record({ amount: finiteReal, stamp: epochMs })

const shards = (env as unknown as { REALTIME_DB_SHARDS: DurableObjectNamespace }).REALTIME_DB_SHARDS

describe("an insert's answered row", () => {
  it("equals the stored row decoded from SQLite, for every column kind", async () => {
    await runInDurableObject(shards.get(shards.newUniqueId()), async (_instance, state) => {
      const sql = makeSql(state.storage)
      for (const resolved of definition.tables.values()) for (const statement of createTable(resolved)) state.storage.sql.exec(statement)
      const storedRow = (resolved: ResolvedTable, key: string, value: unknown) =>
        decodeRow(resolved, state.storage.sql.exec(`SELECT ${selectList(resolved)} FROM ${ident(resolved.name)} WHERE ${ident(key)} = ?`, value as SqlStorageValue).one())
      let next = 0
      const insert = (write: WriteOp) => {
        const prepared = prepareBatch(definition, { writes: [write] }, 0)
        if (Either.isLeft(prepared)) throw new Error(`the generated row is not valid: ${prepared.left.message}`)
        const applied = applyBatchNow(sql, prepared.right, { shard: 0, requestId: "probe", now: 0, maxRowBytes: definition.maxRowBytes, maxBatchBytes: MAX_BATCH_BYTES })
        if (Either.isLeft(applied)) throw new Error(`the insert failed: ${applied.left.message}`)
        return applied.right.results[0].row
      }
      fc.assert(
        fc.property(kindsRow, numberedRow, safeInteger, (row, other, n) => {
          const id = `r${next++}`
          const answered = insert({ op: "insert", table: "kinds", row: { id, ...row } })
          expect(exactly(answered)).toBe(exactly(storedRow(definition.tables.get("kinds")!, "id", id)))
          // The generated key may repeat: whatever holds it goes first.
          state.storage.sql.exec(`DELETE FROM ${ident("numbered")} WHERE n = ?`, n)
          const answeredNumbered = insert({ op: "insert", table: "numbered", row: { n, ...other } })
          expect(exactly(answeredNumbered)).toBe(exactly(storedRow(definition.tables.get("numbered")!, "n", n)))
        }),
        { numRuns: 300 },
      )
    })
  })
})
