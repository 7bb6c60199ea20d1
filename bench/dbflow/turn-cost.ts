// The JavaScript of a shard's turn for one hosted insert (`streamFrom: "shard"`), without SQLite or
// the socket: the write's checks (`prepareBatch`), its commit (`applyBatchNow` over a SqlShape whose
// statements answer at once), the stream's append (`HubStream.appendIn` over the memory buffer) and
// the fan-out to one subscriber (frame built, `send` a no-op). What is left of the turn's CPU once
// SQLite and the runtime are taken out, for A/B of small steps that the whole-cell figure cannot
// see on a shared machine. Not part of `npm run bench`; figures go to bench/notes/db.md.
//
//   npx esbuild bench/dbflow/turn-cost.ts --bundle --platform=node --format=esm --keep-names --outfile=/tmp/turn-cost.mjs && node /tmp/turn-cost.mjs
//   (--keep-names as wrangler bundles; add `node --no-opt --no-maglev` for the lower tiers a shard at 100 writes/s runs in)
import { Effect, Either } from "effect"
import { text } from "../../src/db/Columns.js"
import { resolveDeclaration } from "../../src/db/Declaration.js"
import { loadHubStream } from "../../src/db/hub/HubStream.js"
import { hubIdOf } from "../../src/db/Placement.js"
import { table } from "../../src/db/Table.js"
import { applyBatchNow, changesByHub, MAX_BATCH_BYTES, prepareBatch, type InlineStreams } from "../../src/db/Writes.js"
import type { SqlShape } from "../../src/services/Sql.js"
import type { SocketAttachment } from "../../src/sockets/Attachment.js"
import { makeMemory } from "../../src/storage/HubChangeStore.js"

const posts = table({ id: text().primaryKey(), tenantId: text().notNull(), title: text().notNull() })
const definition = resolveDeclaration({
  name: "turn_cost",
  schema: { posts },
  realtime: { tables: { posts: { filters: ["tenantId"], requiredFilters: ["tenantId"], streamFrom: "shard" } } },
  shards: 1,
})
const postsTable = definition.tables.get("posts")!

// Statements answer at once: an outbox insert its next id, everything else nothing.
let outboxId = 0
const answered = [{ id: 0 }]
const exec = ((query: string) => {
  if (query.endsWith("RETURNING id")) {
    answered[0] = { id: ++outboxId }
    return answered
  }
  return []
}) as SqlShape["transactionNow"] extends (body: (exec: infer E, run: infer R) => unknown) => unknown ? E : never
const run = () => 1
const sql = { transactionNow: (body: (e: typeof exec, r: typeof run) => unknown) => Either.right(body(exec, run)) } as unknown as SqlShape

let sent = 0
const socket = { send: () => void sent++ } as unknown as WebSocket
const attachment = { data: { filters: { tenantId: "t1" }, events: ["insert", "update", "delete"], hub: hubIdOf(postsTable, { tenantId: "t1" }) } } as unknown as SocketAttachment
const subscribers = [{ socket, id: "s1", attachment }]
// The buffer's statements answer at once too (the memory store scans its buffer per append: not the shard's cost).
const store = { ...makeMemory(), appendWith: () => ({ through: undefined, chars: 0 }) }
const stream = Effect.runSync(loadHubStream({ definition, store, subscribers: () => subscribers }))
const inline: InlineStreams = {
  shard: 0,
  takes: () => true,
  append: (execute, changes) => {
    const settle = [...changesByHub(changes)].map(([, list]) => stream.appendIn(execute, list))
    return () => {
      for (const apply of settle) apply()
    }
  },
}

const turn = (i: number) => {
  const prepared = prepareBatch(definition, { writes: [{ op: "insert", table: "posts", row: { id: `p${i}`, tenantId: "t1", title: `hello world ${i}` } }] }, 0)
  if (Either.isLeft(prepared)) throw prepared.left
  const committed = applyBatchNow(sql, prepared.right, { shard: 0, requestId: crypto.randomUUID(), now: Date.now(), maxRowBytes: definition.maxRowBytes, maxBatchBytes: MAX_BATCH_BYTES, inline })
  if (Either.isLeft(committed)) throw committed.left
  committed.right.delivered()
}

const N = Number(process.argv[2] ?? 100_000)
for (let round = 1; round <= 3; round++) {
  for (let i = 0; i < 10_000; i++) turn(i)
  const start = performance.now()
  for (let i = 0; i < N; i++) turn(i)
  console.log(`round ${round}: ${(((performance.now() - start) * 1000) / N).toFixed(2)} µs per write (${sent} frames sent)`)
}
