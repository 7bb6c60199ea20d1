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
import { spawn } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import WebSocket from "ws"
import { bundleModules } from "./bundleModules.mjs"
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

const root = join(import.meta.dirname, "..", "..")
const port = 18_000 + Math.floor(Math.random() * 2000)
const inspectorPort = port + 1
const storage = mkdtempSync(join(tmpdir(), "workload-profile-"))
const child = spawn(
  process.execPath,
  [
    join(root, "node_modules/wrangler/bin/wrangler.js"),
    "dev",
    "--config",
    join(root, "bench/wrangler.toml"),
    "--ip",
    "127.0.0.1",
    "--port",
    String(port),
    "--persist-to",
    storage,
    "--inspector-port",
    String(inspectorPort),
    "--var",
    "REALTIME_GRANT_SECRET:profile-secret-profile-secret-profile-secret",
  ],
  {
    cwd: root,
    env: {
      ...process.env,
      CI: "true",
      WRANGLER_SEND_METRICS: "false",
      X_LOCAL_OBSERVABILITY: process.env.X_LOCAL_OBSERVABILITY ?? "false",
    },
    stdio: ["ignore", "pipe", "pipe"],
  },
)
const stop = async () => {
  child.kill("SIGTERM")
  await new Promise((resolve) => setTimeout(resolve, 2000))
  rmSync(storage, { recursive: true, force: true })
}
try {
  let output = ""
  await new Promise((resolve, reject) => {
    const onData = (chunk) => {
      output += chunk
      if (output.includes("Ready on")) resolve()
    }
    child.stdout.on("data", onData)
    child.stderr.on("data", onData)
    setTimeout(() => reject(new Error(output)), 60_000)
  })
  const server = { url: `http://127.0.0.1:${port}`, wsUrl: `ws://127.0.0.1:${port}`, cpuMs: async () => 0 }
  const log = (line) => console.log(`[${workloadName}] ${line}`)
  // Warm-up (the first request also starts the Worker's workerd, whose inspector is then listed).
  console.log("warm-up", JSON.stringify(await workload.run({ server, quick: false, log, run: 0 }, cell)))

  const listed = await (await fetch(`http://127.0.0.1:${inspectorPort}/json`)).json()
  const socket = new WebSocket(listed[0].webSocketDebuggerUrl)
  await new Promise((resolve) => socket.once("open", resolve))
  let nextId = 1
  const waiting = new Map()
  const scripts = []
  socket.on("message", (data) => {
    const message = JSON.parse(data)
    if (message.method === "Debugger.scriptParsed" && message.params.url.endsWith("worker.js")) scripts.push(message.params.scriptId)
    if (message.id !== undefined) waiting.get(message.id)?.(message)
  })
  const call = (method, params = {}) =>
    new Promise((resolve) => {
      const id = nextId++
      waiting.set(id, resolve)
      socket.send(JSON.stringify({ id, method, params }))
    })
  await call("Debugger.enable")
  await new Promise((resolve) => setTimeout(resolve, 500))
  const source =
    scripts.length > 0 ? (await call("Debugger.getScriptSource", { scriptId: scripts[scripts.length - 1] })).result.scriptSource : ""
  await call("Debugger.disable")
  // Kept beside the profile: its `worker.js:<line>` frames are lines of this bundle.
  writeFileSync(join(tmpdir(), `profile-${workloadName}-worker.js`), source)
  const moduleOf = bundleModules(source)

  await call("Profiler.enable")
  await call("Profiler.setSamplingInterval", { interval: 100 })
  await call("Profiler.start")
  for (let run = 1; run <= repeat; run++)
    console.log("profiled", JSON.stringify(await workload.run({ server, quick: false, log, run }, cell)))
  const { result } = await call("Profiler.stop")
  socket.close()
  const profile = result.profile
  const out = join(tmpdir(), `profile-${workloadName}.cpuprofile`)
  writeFileSync(out, JSON.stringify(profile))

  // Self time per node from the time deltas (the sampling interval is not exact under load).
  const selfUs = new Map()
  profile.samples.forEach((node, index) => selfUs.set(node, (selfUs.get(node) ?? 0) + (profile.timeDeltas[index] ?? 0)))
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
  await stop()
}
process.exit(0)
