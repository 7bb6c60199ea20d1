// A V8 CPU profile of the benchmark Worker's isolate while one cell of any workload runs: starts
// `wrangler dev` with a fixed inspector port, runs the cell once unprofiled (warm-up: bundle
// compiled, classes loaded, a loaded document), then once under the profiler, and prints self
// time by function and by bundle module (the bundle's `// path` comments), per unit of work.
//
//   node bench/tools/profile-workload.mjs <workload> <target substring> [units=1] [param=value ...]
//   e.g. node bench/tools/profile-workload.mjs yjs-join "CRDT room" 20
//        node bench/tools/profile-workload.mjs room-fill room 1001
// `units` divides the figures (joins, members per run); `param=value` overrides the cell's params
// (numbers when they parse), `repeat=K` profiles K runs (units counted per run). Development tool: the command line's inspector costs CPU of its own (see
// bench/README.md), so read shares, not absolute figures. The profile is written to
// /tmp/profile-<workload>.cpuprofile, the bundle it refers to to /tmp/profile-<workload>-worker.js.
import { writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { bundleModules } from "./bundleModules.mjs"
import { openInspector, selfUsByNode, startInspectedDev, workerBundleSource } from "./lib/inspectedDev.mjs"
import { workloads } from "../workloads/index.mjs"

const [workloadName, targetPart = "", unitsArg = "1", ...overrides] = process.argv.slice(2)
const workload = workloads.find((candidate) => candidate.name === workloadName)
if (workload === undefined) throw new Error(`unknown workload ${workloadName}: ${workloads.map((candidate) => candidate.name).join(", ")}`)
const cell = workload.cells({ quick: false }).find((candidate) => candidate.target.includes(targetPart))
if (cell === undefined) throw new Error(`no cell of ${workloadName} whose target contains "${targetPart}"`)
let repeat = 1
for (const override of overrides) {
  const [key, value] = override.split("=")
  if (key === "repeat") repeat = Number(value)
  else cell.params[key] = Number.isNaN(Number(value)) ? value : Number(value)
}
const units = Number(unitsArg) * repeat

const server = await startInspectedDev("workload-profile")
try {
  const log = (line) => console.log(`[${workloadName}] ${line}`)
  // Warm-up (the first request also starts the Worker's workerd, whose inspector is then listed).
  console.log("warm-up", JSON.stringify(await workload.run({ server, quick: false, log, run: 0 }, cell)))

  const inspector = await openInspector(server.inspectorPort)
  const { call } = inspector
  const source = await workerBundleSource(inspector)
  // Kept beside the profile: its `worker.js:<line>` frames are lines of this bundle.
  writeFileSync(join(tmpdir(), `profile-${workloadName}-worker.js`), source)
  const moduleOf = bundleModules(source)

  await call("Profiler.enable")
  await call("Profiler.setSamplingInterval", { interval: 100 })
  await call("Profiler.start")
  for (let run = 1; run <= repeat; run++)
    console.log("profiled", JSON.stringify(await workload.run({ server, quick: false, log, run }, cell)))
  const { result } = await call("Profiler.stop")
  inspector.close()
  const profile = result.profile
  const out = join(tmpdir(), `profile-${workloadName}.cpuprofile`)
  writeFileSync(out, JSON.stringify(profile))

  const selfUs = selfUsByNode(profile)
  const byFunction = new Map()
  const byModule = new Map()
  for (const node of profile.nodes) {
    const us = selfUs.get(node.id) ?? 0
    if (us === 0) continue
    const frame = node.callFrame
    const where = frame.url.endsWith("worker.js") ? moduleOf(frame.lineNumber) : frame.url || frame.functionName
    const key = `${frame.functionName || "(anonymous)"} ${where}:${frame.lineNumber}`
    byFunction.set(key, (byFunction.get(key) ?? 0) + us)
    byModule.set(where, (byModule.get(where) ?? 0) + us)
  }
  const idle = byModule.get("(idle)") ?? 0
  const busy = [...byModule.values()].reduce((sum, us) => sum + us, 0) - idle
  const top = (map, n) =>
    [...map]
      .filter(([key]) => key !== "(idle)")
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([key, us]) => `${(us / units).toFixed(0).padStart(7)} µs ${((100 * us) / busy).toFixed(1).padStart(5)}%  ${key}`)
      .join("\n")
  console.log(`isolate busy ${(busy / 1000).toFixed(0)} ms = ${(busy / units).toFixed(0)} µs per unit (${units} units); profile ${out}`)
  console.log(`-- by function (self) --\n${top(byFunction, 45)}\n-- by module --\n${top(byModule, 30)}`)
} finally {
  await server.stop()
}
process.exit(0)
