// A V8 CPU profile of the benchmark Worker while one yjs-ingest cell runs: starts `wrangler dev`
// with a fixed inspector port, profiles over the inspector (Profiler.start/stop), and prints self
// time grouped by function and by bundle module (the bundle's `// path` comments), top first.
// `node bench/tools/profile-yjs-ingest.mjs [library|peer|floor|memory] [edits]` (development tool;
// wrangler's local observability collector off, as in `bench/harness/server.mjs`).
import { spawn } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import WebSocket from "ws"
import { bundleModules } from "./bundleModules.mjs"
import workload from "../workloads/yjs-ingest.mjs"
import { FLOOR, LIBRARY, MEMORY_FLOOR, PEER } from "../workloads/yjs/targets.mjs"

const [which = "library", editsArg = "20000"] = process.argv.slice(2)
const target = { library: LIBRARY, peer: PEER, floor: FLOOR, memory: MEMORY_FLOOR }[which]
const root = join(import.meta.dirname, "..", "..")
const port = 18_000 + Math.floor(Math.random() * 2000)
const inspector = port + 1
const storage = mkdtempSync(join(tmpdir(), "yjs-profile-"))
const child = spawn(process.execPath, [join(root, "node_modules/wrangler/bin/wrangler.js"), "dev", "--config", join(root, "bench/wrangler.toml"), "--ip", "127.0.0.1", "--port", String(port), "--persist-to", storage, "--inspector-port", String(inspector), "--var", "REALTIME_GRANT_SECRET:profile-secret-profile-secret-profile-secret"], { cwd: root, env: { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false", X_LOCAL_OBSERVABILITY: process.env.X_LOCAL_OBSERVABILITY ?? "false" }, stdio: ["ignore", "pipe", "pipe"] })
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
const targets = await (await fetch(`http://127.0.0.1:${inspector}/json`)).json()
const socket = new WebSocket(targets[0].webSocketDebuggerUrl)
await new Promise((resolve) => socket.once("open", resolve))
let nextId = 1
const pending = new Map()
const scripts = []
socket.on("message", (data) => {
  const message = JSON.parse(data)
  if (message.method === "Debugger.scriptParsed" && message.params.url.endsWith("worker.js")) scripts.push(message.params.scriptId)
  if (message.id !== undefined && pending.has(message.id)) pending.get(message.id)(message)
})
const call = (method, params = {}) =>
  new Promise((resolve) => {
    const id = nextId++
    pending.set(id, resolve)
    socket.send(JSON.stringify({ id, method, params }))
  })
const server = { url: `http://127.0.0.1:${port}`, wsUrl: `ws://127.0.0.1:${port}`, cpuMs: async () => 0 }
const cell = workload.cells({ quick: false }).find((candidate) => candidate.target === target && candidate.params.trace === "automerge-paper")
cell.params.edits = Number(editsArg)
await call("Debugger.enable")
await new Promise((resolve) => setTimeout(resolve, 500))
const source = scripts.length > 0 ? (await call("Debugger.getScriptSource", { scriptId: scripts[scripts.length - 1] })).result.scriptSource : ""
await call("Debugger.disable")
const moduleOf = bundleModules(source)
await call("Profiler.enable")
await call("Profiler.setSamplingInterval", { interval: 200 })
await call("Profiler.start")
const figures = await workload.run({ server, quick: false, log: console.log }, cell)
const { result } = await call("Profiler.stop")
console.log(JSON.stringify(figures))
const profile = result.profile
writeFileSync(`/tmp/yjs-profile-${which}.cpuprofile`, JSON.stringify(profile))
// Self time per node = samples hitting it.
const counts = new Map()
for (const sample of profile.samples) counts.set(sample, (counts.get(sample) ?? 0) + 1)
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
socket.close()
child.kill("SIGTERM")
await new Promise((resolve) => setTimeout(resolve, 2000))
rmSync(storage, { recursive: true, force: true })
process.exit(0)
