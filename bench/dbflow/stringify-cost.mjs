// What serializing a db change costs in V8: one bench-post row (10 columns), the row alone and the whole ShardChange.
// Measured to decide whether building the row's JSON once per hosted write is a lever (bench/notes/db.md, dbhop2: it is not).
//   node bench/dbflow/stringify-cost.mjs
const row = { id: "post-abc-123", tenantId: "tenant-1", authorId: "author-7", slug: "slug-post-abc-123", title: "A title of a post", published: false, views: 0, score: null, tags: ["a", "b"], publishedAt: null }
const N = 500_000
const time = (label, f) => { let n = 0; const t = performance.now(); for (let i = 0; i < N; i++) n += f(i).length; console.log(label, ((performance.now() - t) * 1000 / N).toFixed(3), "us") }
for (let r = 0; r < 2; r++) {
  time("stringify row   ", () => JSON.stringify({ ...row }))
  time("spread only     ", () => [{ ...row }])
  time("stringify change", () => JSON.stringify({ shard: 0, outboxId: 1234, table: "posts", event: "insert", old: null, new: { ...row }, requestId: "req-123456", createdAt: 1_764_000_000_000 }))
}
