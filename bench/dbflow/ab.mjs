// Two source trees side by side: one `wrangler dev` per tree, the db workload's "writes issued inside
// the Worker" cells (library, then floor) interleaved between them, so both see the same machine at
// the same moment. For before/after figures on a shared, noisy machine. Not part of `npm run bench`.
//
//   git worktree add /tmp/before <commit> && ln -s "$PWD/node_modules" /tmp/before/node_modules
//   node bench/dbflow/ab.mjs /tmp/before "$PWD" [rounds=4] [ms=5000] [rate=100]
//
// Cells: the library (default: table hubs), the library with streamFrom: "shard" (where the tree has it), the floor.
// AB_TARGETS=LIBRARY,FLOOR (comma-separated) runs only those cells: e.g. the default configuration against the floor;
// FLOOR_TWO_HOP (where the tree has it): the floor's commit sent on through a second plain object, what two hops cost.
// Prints one line per cell (CPU µs per write, p50 and commit → delivery p50 in ms, rows per write, load
// average) and the median CPU per tree and target. Read CPU with p50: a library that falls behind
// batches its drain rounds, which lowers its CPU per write and raises its latency.
import { loadavg } from "node:os"
import { alternate, closeTrees, openTrees, upperMedian as median } from "../tools/lib/interleave.mjs"

const [a, b] = [process.argv[2], process.argv[3]]
const rounds = Number(process.argv[4] ?? 4)
const durationMs = Number(process.argv[5] ?? 5000)
const rate = Number(process.argv[6] ?? 100)
if (a === undefined || b === undefined) throw new Error("usage: node bench/dbflow/ab.mjs <tree-a> <tree-b> [rounds] [ms] [rate]")

const trees = await openTrees([a, b], async (tree) => {
  const db = await import(`${tree}/bench/workloads/db.mjs`)
  // LIBRARY_IN_SHARD: the streamFrom: "shard" target, in trees that have it.
  // FLOOR_TWO_HOP: two plain hops (bench/dbflow/floorTwoHop.ts), in trees that have it.
  return { workload: db.default, LIBRARY: db.LIBRARY, LIBRARY_IN_SHARD: db.LIBRARY_IN_SHARD, FLOOR: db.FLOOR, FLOOR_TWO_HOP: db.FLOOR_TWO_HOP }
})
const cpu = new Map()
try {
  await alternate(trees, rounds, process.env.AB_TARGETS?.split(",") ?? ["LIBRARY", "LIBRARY_IN_SHARD", "FLOOR", "FLOOR_TWO_HOP"], async (t, which, run) => {
    if (t[which] === undefined) return
    const cell = { group: "ab", target: t[which], floor: t.FLOOR, params: { writer: "worker", rate, durationMs, subscribers: 1 } }
    const f = await t.workload.run({ server: t.server, run, quick: false, log: () => {} }, cell)
    const key = `${t.tree} ${which}`
    cpu.set(key, [...(cpu.get(key) ?? []), f.cpuUsPerWrite])
    console.log(JSON.stringify({ run, tree: t.tree, target: which, cpuUsPerWrite: Math.round(f.cpuUsPerWrite), p50Ms: f.p50Ms, commitP50Ms: f.commitP50Ms, rowsPerWrite: f.rowsPerWrite, load: loadavg()[0].toFixed(1) }))
  })
  for (const [key, values] of cpu) console.log(`median CPU µs/write ${key}: ${Math.round(median(values))}`)
} finally {
  await closeTrees(trees)
}
