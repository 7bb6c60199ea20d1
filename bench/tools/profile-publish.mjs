// Where does workerd's isolate time go for one persisted publish? Starts `wrangler dev` with a fixed
// inspector port, runs the publish workload's pass (bench/workloads/publish.mjs: 1 publisher, 10
// receivers, 150/s, every 10th a repeated key) on each named target in turn with a V8 CPU profile
// around each pass, and prints per publish: isolate busy time, self time by bundle module and by
// function, and inclusive time of the functions that matter most. Sampling (and the inspector
// itself) inflates absolute figures: compare targets within one run, by proportion.
// Development tool, not part of `npm run bench`; findings go to bench/notes/publish.md.
//
//   PATH="$PWD/node_modules/.bin:$PATH" node bench/tools/profile-publish.mjs [library,floor] [seconds=4]  (the project's Node 24)
import { spawn } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import WebSocket from "ws"
import { floorTarget, libraryTarget, pass } from "../workloads/publish.mjs"

const [which = "library,floor", seconds = "4"] = process.argv.slice(2)
const root = join(import.meta.dirname, "..", "..")
const port = 18_000 + Math.floor(Math.random() * 2000)
const inspectorPort = port + 1
const storage = mkdtempSync(join(tmpdir(), "publish-profile-"))
const child = spawn(
  process.execPath,
  [join(root, "node_modules/wrangler/bin/wrangler.js"), "dev", "--config", join(root, "bench/wrangler.toml"), "--ip", "127.0.0.1", "--port", String(port), "--persist-to", storage, "--inspector-port", String(inspectorPort), "--var", "REALTIME_GRANT_SECRET:profile-secret-profile-secret-profile-secret"],
  { cwd: root, env: { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false", X_LOCAL_OBSERVABILITY: process.env.X_LOCAL_OBSERVABILITY ?? "false" }, stdio: ["ignore", "pipe", "pipe"] },
)
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
try {
  // Wake the Worker's isolate (and its inspector target) before attaching.
  await (await fetch(server.url)).arrayBuffer()
  const targets = await (await fetch(`http://127.0.0.1:${inspectorPort}/json`)).json()
  const inspector = new WebSocket(targets[0].webSocketDebuggerUrl)
  await new Promise((resolve) => inspector.once("open", resolve))
  let nextId = 1
  const waiting = new Map()
  const scripts = []
  inspector.on("message", (data) => {
    const message = JSON.parse(data.toString())
    if (message.method === "Debugger.scriptParsed" && message.params.url.endsWith("worker.js")) scripts.push(message.params.scriptId)
    if (message.id !== undefined) waiting.get(message.id)?.(message)
  })
  const call = (method, params = {}) =>
    new Promise((resolve) => {
      const id = nextId++
      waiting.set(id, resolve)
      inspector.send(JSON.stringify({ id, method, params }))
    })
  await call("Debugger.enable")
  await new Promise((resolve) => setTimeout(resolve, 500))
  const source = scripts.length > 0 ? (await call("Debugger.getScriptSource", { scriptId: scripts[scripts.length - 1] })).result.scriptSource : ""
  await call("Debugger.disable")
  writeFileSync(join(tmpdir(), "publish-profile-worker.js"), source)
  // The bundle names each module in a `// path` comment line: line number -> module.
  const moduleStarts = []
  source.split("\n").forEach((line, index) => {
    const match = /^\/\/ (\S+\.(?:m?js|ts))$/.exec(line)
    if (match) moduleStarts.push([index, match[1].replace(/^.*node_modules\//, "")])
  })
  const moduleOf = (line) => {
    let name = "(bundle)"
    for (const [start, module] of moduleStarts) {
      if (start > line) break
      name = module
    }
    return name
  }

  for (const name of which.split(",")) {
    const target = name === "library" ? libraryTarget("bench") : floorTarget(name === "floor" ? "unique-idempotency" : name)
    // One unprofiled warm-up pass (JIT, first statements), then the profiled one.
    await pass({ server, quick: true }, target, `profile-warm-${name}-${Date.now()}`)
    await call("Profiler.enable")
    await call("Profiler.setSamplingInterval", { interval: 100 })
    await call("Profiler.start")
    const figures = await pass({ server, quick: false }, target, `profile-${name}-${Date.now()}`)
    const { result } = await call("Profiler.stop")
    const profile = result.profile
    writeFileSync(join(tmpdir(), `publish-profile-${name}.cpuprofile`), JSON.stringify(profile))
    const publishes = Math.floor(150 * Number(seconds))
    report(name, profile, publishes, moduleOf, figures)
  }
  inspector.close()
} finally {
  child.kill("SIGTERM")
  await new Promise((resolve) => setTimeout(resolve, 1500))
  rmSync(storage, { recursive: true, force: true })
}

function report(name, profile, publishes, moduleOf, figures) {
  const selfUs = new Map()
  for (let index = 0; index < profile.samples.length; index++) selfUs.set(profile.samples[index], (selfUs.get(profile.samples[index]) ?? 0) + (profile.timeDeltas[index] ?? 0))
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const keyOf = (frame) => `${frame.functionName || "(anonymous)"} ${frame.url.endsWith("worker.js") ? moduleOf(frame.lineNumber) : frame.url}:${frame.lineNumber + 1}`
  const byFunction = new Map()
  const byModule = new Map()
  const inclusive = new Map()
  let busy = 0
  // Inclusive time: each node's self time counted once for every distinct function on its stack.
  const walk = (node, stack) => {
    const frame = node.callFrame
    const key = keyOf(frame)
    const us = selfUs.get(node.id) ?? 0
    const idle = frame.functionName === "(idle)" || frame.functionName === "(program)" || frame.functionName === "(garbage collector)"
    if (frame.functionName !== "(idle)") busy += us
    byFunction.set(key, (byFunction.get(key) ?? 0) + us)
    const where = frame.url.endsWith("worker.js") ? moduleOf(frame.lineNumber) : frame.url || frame.functionName
    byModule.set(where, (byModule.get(where) ?? 0) + us)
    const below = idle ? stack : new Set(stack).add(key)
    for (const seen of below) inclusive.set(seen, (inclusive.get(seen) ?? 0) + us)
    for (const childId of node.children ?? []) walk(byId.get(childId), below)
  }
  walk(profile.nodes[0], new Set())
  const per = (us) => (us / publishes).toFixed(1).padStart(7)
  const top = (map, n) => [...map].sort((a, b) => b[1] - a[1]).slice(0, n).map(([key, us]) => `${per(us)}  ${key}`).join("\n")
  console.log(`\n===== ${name}: ${publishes} publishes, ${JSON.stringify(figures)}`)
  console.log(`isolate busy (not idle) ${per(busy)} µs per publish`)
  console.log(`-- self by module (µs/publish) --\n${top(byModule, 25)}`)
  console.log(`-- self by function --\n${top(byFunction, 45)}`)
  console.log(`-- inclusive by function --\n${top(inclusive, 60)}`)
}
