// What a shard's decode of one write costs: the WriteBatch payload and its row, through the generic
// Schema parser (as before session 7) and through the compiled decoders (`compiled: true` on
// DbShardOps.write, `decodeInsert`). Not part of `npm run bench`; figures go to bench/notes/db.md.
//
//   npx esbuild bench/dbflow/decode-cost.ts --bundle --platform=node --format=esm --outfile=/tmp/decode-cost.mjs && node /tmp/decode-cost.mjs
import { Either, Schema } from "effect"
import { compileDecoder, UNDECIDED } from "../../src/schema/CompiledDecoder.js"
import { text } from "../../src/db/Columns.js"
import { decodeInsert, insertSchema, table } from "../../src/db/Table.js"
import { WriteBatch } from "../../src/db/Writes.js"

// The bench table (schema.ts), declared here without its database (which needs the Workers runtime).
const posts = table({ id: text().primaryKey(), tenantId: text().notNull(), title: text().notNull() })

const viaSchemaBatch = Schema.decodeUnknownEither(WriteBatch, { errors: "all" })
const viaSchemaRow = Schema.decodeUnknownEither(insertSchema(posts))
const compiledBatch = compileDecoder(WriteBatch)
const compiledRow = decodeInsert(posts)
const write = (i: number) => ({ writes: [{ op: "insert", table: "posts", row: { id: `p${i}`, tenantId: "t1", title: `hello world ${i}` } }] })
const rowOf = (batch: WriteBatch) => (batch.writes[0] as { readonly row: unknown }).row
const N = 200_000

const time = (name: string, decode: (i: number) => unknown) => {
  for (let i = 0; i < 20_000; i++) decode(i)
  const start = performance.now()
  for (let i = 0; i < N; i++) decode(i)
  console.log(`${name}: ${(((performance.now() - start) * 1000) / N).toFixed(2)} µs per write`)
}

for (let round = 1; round <= 3; round++) {
  time("Schema: batch + row", (i) => {
    const batch = viaSchemaBatch(write(i))
    return Either.isRight(batch) ? viaSchemaRow(rowOf(batch.right)) : batch
  })
  time("compiled: batch + row", (i) => {
    const batch = compiledBatch(write(i))
    return batch === UNDECIDED ? batch : compiledRow(rowOf(batch))
  })
  time("building the input only", write)
}
