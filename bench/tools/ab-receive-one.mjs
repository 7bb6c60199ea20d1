// Two source trees side by side on the receive-one workload: one bench server per tree (the
// benchmark's own harness), the room, channel and raw-loop cells interleaved between them, so both
// see the same machine in the same minutes. For before/after figures on a shared, noisy machine;
// not part of `npm run bench`. Longer cells than the workload's (CPU is read in 10 ms steps).
//
//   git archive <commit> | tar -x -C /tmp/before && ln -s "$PWD/node_modules" /tmp/before/node_modules
//   node bench/tools/ab-receive-one.mjs /tmp/before "$PWD" [rounds=4] [ms=8000]
import { loadavg } from "node:os"

const [a, b] = [process.argv[2], process.argv[3]]
const rounds = Number(process.argv[4] ?? 4)
const durationMs = Number(process.argv[5] ?? 8000)
if (a === undefined || b === undefined) throw new Error("usage: node bench/tools/ab-receive-one.mjs <tree-a> <tree-b> [rounds] [ms]")

const setup = async (tree) => {
  const { startBenchServer } = await import(`${tree}/bench/harness/server.mjs`)
  const { runFanout } = await import(`${tree}/bench/workloads/fanout.mjs`)
  return { tree, server: await startBenchServer(), runFanout }
}

const trees = [await setup(a), await setup(b)]
const cpu = new Map()
try {
  for (let run = 1; run <= rounds; run++) {
    for (const target of ["room", "channel", "loop"]) {
      // Alternate which tree goes first, so neither always runs right after the other's cell.
      for (const t of run % 2 === 1 ? trees : [...trees].reverse()) {
        const f = await t.runFanout({ server: t.server, run }, { target, n: 1, bytes: 64, rate: 200, durationMs })
        const key = `${target} ${t.tree}`
        cpu.set(key, [...(cpu.get(key) ?? []), f.cpuUsPerFrame])
        console.log(JSON.stringify({ run, tree: t.tree, target, cpuUsPerFrame: Math.round(f.cpuUsPerFrame), delivered: f.deliveredFraction, load: loadavg()[0].toFixed(2) }))
      }
    }
  }
  const median = (values) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)]
  const medians = new Map([...cpu].map(([key, values]) => [key, median(values)]))
  for (const [key, value] of medians) console.log(`median CPU µs/message ${key}: ${Math.round(value)} (${cpu.get(key).map(Math.round).join(", ")})`)
  for (const t of trees) {
    const raw = medians.get(`loop ${t.tree}`)
    console.log(`${t.tree}: room ${(medians.get(`room ${t.tree}`) / raw).toFixed(2)}x, channel ${(medians.get(`channel ${t.tree}`) / raw).toFixed(2)}x the raw loop`)
  }
} finally {
  for (const t of trees) await t.server.stop()
}
