// Two source trees side by side on the receive-one workload: one bench server per tree (the
// benchmark's own harness), the room, channel and raw-loop cells interleaved between them, so both
// see the same machine in the same minutes. For before/after figures on a shared, noisy machine;
// not part of `npm run bench`. Longer cells than the workload's by default (8 s).
//
//   git archive <commit> | tar -x -C /tmp/before && ln -s "$PWD/node_modules" /tmp/before/node_modules
//   node bench/tools/ab-receive-one.mjs /tmp/before "$PWD" [rounds=4] [ms=8000]
import { loadavg } from "node:os"
import { alternate, closeTrees, openTrees, upperMedian as median } from "./lib/interleave.mjs"

const [a, b] = [process.argv[2], process.argv[3]]
const rounds = Number(process.argv[4] ?? 4)
const durationMs = Number(process.argv[5] ?? 8000)
if (a === undefined || b === undefined) throw new Error("usage: node bench/tools/ab-receive-one.mjs <tree-a> <tree-b> [rounds] [ms]")

const trees = await openTrees([a, b], async (tree) => ({ runFanout: (await import(`${tree}/bench/workloads/fanout.mjs`)).runFanout }))
const cpu = new Map()
try {
  await alternate(trees, rounds, ["room", "channel", "loop"], async (t, target, run) => {
    const f = await t.runFanout({ server: t.server, run }, { target, n: 1, bytes: 64, rate: 200, durationMs })
    const key = `${target} ${t.tree}`
    cpu.set(key, [...(cpu.get(key) ?? []), f.cpuUsPerFrame])
    console.log(JSON.stringify({ run, tree: t.tree, target, cpuUsPerFrame: Math.round(f.cpuUsPerFrame), delivered: f.deliveredFraction, load: loadavg()[0].toFixed(2) }))
  })
  const medians = new Map([...cpu].map(([key, values]) => [key, median(values)]))
  for (const [key, value] of medians) console.log(`median CPU µs/message ${key}: ${Math.round(value)} (${cpu.get(key).map(Math.round).join(", ")})`)
  for (const t of trees) {
    const raw = medians.get(`loop ${t.tree}`)
    console.log(`${t.tree}: room ${(medians.get(`room ${t.tree}`) / raw).toFixed(2)}x, channel ${(medians.get(`channel ${t.tree}`) / raw).toFixed(2)}x the raw loop`)
  }
} finally {
  await closeTrees(trees)
}
