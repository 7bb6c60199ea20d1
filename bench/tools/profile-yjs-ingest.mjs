// A V8 CPU profile of the benchmark Worker while one yjs-ingest cell runs: starts `wrangler dev`
// with a fixed inspector port, profiles over the inspector (Profiler.start/stop), and prints self
// time grouped by function and by bundle module (the bundle's `// path` comments), top first.
// `node bench/tools/profile-yjs-ingest.mjs [library|peer|floor|memory] [edits]` (development tool;
// wrangler's local observability collector off, as in `bench/harness/server.mjs`).
import { writeFileSync } from "node:fs"
import { bundleModules } from "./bundleModules.mjs"
import { openInspector, samplesByNode, startInspectedDev, workerBundleSource } from "./lib/inspectedDev.mjs"
import workload from "../workloads/yjs-ingest.mjs"
import { FLOOR, LIBRARY, MEMORY_FLOOR, PEER } from "../workloads/yjs/targets.mjs"

const [which = "library", editsArg = "20000"] = process.argv.slice(2)
const target = { library: LIBRARY, peer: PEER, floor: FLOOR, memory: MEMORY_FLOOR }[which]
const server = await startInspectedDev("yjs-profile")
const inspector = await openInspector(server.inspectorPort)
const { call } = inspector
const cell = workload.cells({ quick: false }).find((candidate) => candidate.target === target && candidate.params.trace === "automerge-paper")
cell.params.edits = Number(editsArg)
const moduleOf = bundleModules(await workerBundleSource(inspector))
await call("Profiler.enable")
await call("Profiler.setSamplingInterval", { interval: 200 })
await call("Profiler.start")
const figures = await workload.run({ server, quick: false, log: console.log }, cell)
const { result } = await call("Profiler.stop")
console.log(JSON.stringify(figures))
const profile = result.profile
writeFileSync(`/tmp/yjs-profile-${which}.cpuprofile`, JSON.stringify(profile))
// Self time per node = samples hitting it.
const counts = samplesByNode(profile)
const total = profile.samples.length
const byFunction = new Map()
const byUrl = new Map()
for (const node of profile.nodes) {
  const hits = counts.get(node.id) ?? 0
  if (hits === 0) continue
  const frame = node.callFrame
  const key = `${frame.functionName || "(anonymous)"} ${frame.url.endsWith("worker.js") ? moduleOf(frame.lineNumber) : frame.url}:${frame.lineNumber}`
  byFunction.set(key, (byFunction.get(key) ?? 0) + hits)
  const where = frame.url.endsWith("worker.js") ? moduleOf(frame.lineNumber) : frame.url || frame.functionName
  byUrl.set(where, (byUrl.get(where) ?? 0) + hits)
}
const top = (map, n) => [...map].sort((a, b) => b[1] - a[1]).slice(0, n).map(([key, hits]) => `${((100 * hits) / total).toFixed(1).padStart(5)}%  ${key}`).join("\n")
console.log(`samples ${total}\n-- by function --\n${top(byFunction, 40)}\n-- by module --\n${top(byUrl, 30)}`)
inspector.close()
await server.stop()
process.exit(0)
