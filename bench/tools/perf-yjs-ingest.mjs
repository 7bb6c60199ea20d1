// Native CPU profile (Linux `perf`) of the benchmark Worker's workerd while one yjs-ingest cell
// runs: where the runtime spends a frame's time outside JavaScript, which the V8 profile of
// profile-yjs-ingest.mjs cannot see. Needs `perf` and permission to attach (root here).
// `node bench/tools/perf-yjs-ingest.mjs [library|peer|floor|memory] [edits] [out.data]` (development tool);
// then `perf report -i out.data --no-children --sort dso,sym`. BENCH_WRANGLER_CLI=1 profiles the command line's workerd.
import { spawn } from "node:child_process"
import { startBenchServer } from "../harness/server.mjs"
import { usageOf, workerdPidsUnder } from "../harness/procs.mjs"
import workload from "../workloads/yjs-ingest.mjs"
import { FLOOR, LIBRARY, MEMORY_FLOOR, PEER } from "../workloads/yjs/targets.mjs"

const [which = "library", editsArg = "20000", out = `/tmp/yjs-perf-${which}.data`] = process.argv.slice(2)
const target = { library: LIBRARY, peer: PEER, floor: FLOOR, memory: MEMORY_FLOOR }[which]
const server = await startBenchServer()
const cell = workload.cells({ quick: false }).find((candidate) => candidate.target === target && candidate.params.trace === "automerge-paper")
cell.params.edits = Number(editsArg)
// One warm-up run (bundles compiled, the class loaded), then the profiled one.
await workload.run({ server, quick: false, log: console.log }, { ...cell, params: { ...cell.params, edits: 2000 } })
// The Worker's workerd: of the dev server's workerd processes (its own and wrangler's dev proxy),
// the one that did the warm-up's work.
const workerdPid = workerdPidsUnder(process.pid).sort((a, b) => usageOf([b]).cpuMs - usageOf([a]).cpuMs)[0]
if (workerdPid === undefined) throw new Error("no workerd under this dev server")
const perf = spawn("perf", ["record", "-F", "2000", "-g", "-p", String(workerdPid), "-o", out], { stdio: "inherit" })
await new Promise((resolve) => setTimeout(resolve, 500))
const cpuBefore = await server.cpuMs()
const figures = await workload.run({ server, quick: false, log: console.log }, cell)
console.log(JSON.stringify({ ...figures, workerdPid, cpuMsAll: (await server.cpuMs()) - cpuBefore }))
perf.kill("SIGINT")
await new Promise((resolve) => perf.once("exit", resolve))
await server.stop()
process.exit(0)
