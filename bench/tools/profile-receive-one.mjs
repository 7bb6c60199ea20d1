// Where does workerd's time go for one received client message? Starts the benchmark Worker on
// `wrangler dev` with a fixed inspector port, connects one publisher and one receiver to a fresh
// object of the target (as the receive-one workload does), takes a V8 CPU profile of the isolate
// while the publisher sends a 64 B frame at `rate`/s, and prints self time per message by function
// and by bundle module, with what each socket received (frames and bytes: what the target sends
// beyond the relayed frame). Development tool; findings go to bench/notes/receive-one.md.
//
//   node bench/tools/profile-receive-one.mjs [room|channel|loop] [seconds=10] [rate=200]
// The inspector itself costs runtime CPU per event: compare targets with this tool, never its
// absolute figures with the benchmark's.
import { randomBytes } from "node:crypto"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { unstable_startWorker } from "wrangler"
import WebSocket from "ws"
import { closeAll, openLoop, sleep, waitFor } from "../harness/load.mjs"
import { usageOf, workerdPidsUnder } from "../harness/procs.mjs"
import { connectTarget, payloadOf, publishFrame, seqOf } from "../workloads/fanoutClients.mjs"

const [which = "room", secondsArg = "10", rateArg = "200"] = process.argv.slice(2)
const rate = Number(rateArg)
const seconds = Number(secondsArg)
const storage = mkdtempSync(join(tmpdir(), "receive-one-profile-"))
// wrangler's API (the benchmark's own start, bench/harness/server.mjs) with its devtools inspector on:
// the command line needs Node 22 here.
process.env.X_LOCAL_OBSERVABILITY ??= "false"
const workerdBefore = new Set(workerdPidsUnder(process.pid))
const worker = await unstable_startWorker({
  config: join(import.meta.dirname, "..", "wrangler.toml"),
  bindings: { REALTIME_GRANT_SECRET: { type: "plain_text", value: randomBytes(32).toString("hex") } },
  dev: { server: { hostname: "127.0.0.1", port: 0 }, inspector: { hostname: "127.0.0.1", port: 0 }, persist: storage, watch: false, logLevel: "warn" },
})
await worker.ready
const url = (await worker.url).origin
await (await fetch(url)).arrayBuffer()
const ours = () => workerdPidsUnder(process.pid).filter((pid) => !workerdBefore.has(pid))
const server = { url, wsUrl: url.replace("http", "ws"), cpuMs: async () => usageOf(ours()).cpuMs }
try {
  const inspectorUrl = await worker.inspectorUrl
  const targets = await (await fetch(`${inspectorUrl.origin.replace("ws", "http")}/json`)).json()
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

  // What each socket receives: the receiver's relayed frames, and anything else either gets.
  const seen = { receiverFrames: 0, receiverBytes: 0, publisherFrames: 0, publisherBytes: 0, otherFrames: 0, sample: undefined, publisherSample: undefined }
  let counting = false
  let delivered = 0
  const onFrame = (data, index) => {
    if (!counting) return
    const text = data.toString()
    if (index === -1) {
      seen.publisherFrames++
      seen.publisherBytes += text.length
      seen.publisherSample ??= text
    } else {
      seen.receiverFrames++
      seen.receiverBytes += text.length
      seen.sample ??= text
      if (seqOf(text) >= 0) delivered++
      else seen.otherFrames++
    }
  }
  const warm = await connectTarget(server, which, `warm-${Date.now()}`, 1, () => {})
  await openLoop({ rate, durationMs: 1000, operation: (seq) => warm.publisher.send(publishFrame(which, payloadOf(seq, 64))) })
  await closeAll(warm.sockets)
  const connected = await connectTarget(server, which, `profile-${which}-${Date.now()}`, 1, onFrame)
  await sleep(1000)

  await call("Debugger.enable")
  const source = scripts.length > 0 ? (await call("Debugger.getScriptSource", { scriptId: scripts[scripts.length - 1] })).result.scriptSource : ""
  writeFileSync(join(tmpdir(), `receive-one-${which}-worker.js`), source)
  await call("Debugger.disable")
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

  await call("Profiler.enable")
  await call("Profiler.setSamplingInterval", { interval: 100 })
  await call("Profiler.start")
  counting = true
  const cpuBefore = await server.cpuMs()
  const sent = await openLoop({ rate, durationMs: seconds * 1000, operation: (seq) => connected.publisher.send(publishFrame(which, payloadOf(seq, 64))) })
  await waitFor(() => delivered >= sent, 10_000)
  const cpuMs = (await server.cpuMs()) - cpuBefore
  await sleep(300)
  const { result } = await call("Profiler.stop")
  counting = false
  await closeAll(connected.sockets)
  inspector.close()
  const profile = result.profile
  writeFileSync(join(tmpdir(), `receive-one-${which}.cpuprofile`), JSON.stringify(profile))

  // Self time per node, from the samples' time deltas.
  const selfUs = new Map()
  for (let index = 0; index < profile.samples.length; index++) {
    selfUs.set(profile.samples[index], (selfUs.get(profile.samples[index]) ?? 0) + (profile.timeDeltas[index] ?? 0))
  }
  const byFunction = new Map()
  const byModule = new Map()
  let total = 0
  for (const node of profile.nodes) {
    const us = selfUs.get(node.id) ?? 0
    if (us === 0) continue
    total += us
    const frame = node.callFrame
    const where = frame.url.endsWith("worker.js") ? moduleOf(frame.lineNumber) : frame.url || frame.functionName
    const key = `${frame.functionName || "(anonymous)"} ${where}:${frame.lineNumber + 1}`
    byFunction.set(key, (byFunction.get(key) ?? 0) + us)
    byModule.set(where, (byModule.get(where) ?? 0) + us)
  }
  const idle = byModule.get("(idle)") ?? 0
  const per = (us) => (us / sent).toFixed(1).padStart(7)
  console.log(`${which}: ${sent} sent, ${delivered} delivered; workerd CPU ${((cpuMs * 1000) / Math.max(1, delivered)).toFixed(0)} µs/message (both processes, inspector on); isolate busy ${per(total - idle)} µs/message (JS profile)`)
  console.log(`receiver: ${seen.receiverFrames} frames (${seen.otherFrames} not relayed), ${(seen.receiverBytes / Math.max(1, seen.receiverFrames)).toFixed(0)} B each, e.g. ${seen.sample}`)
  console.log(`publisher: ${seen.publisherFrames} frames${seen.publisherSample === undefined ? "" : `, e.g. ${seen.publisherSample}`}`)
  console.log("\nby module (µs per message):")
  for (const [module, us] of [...byModule].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`${per(us)}  ${module}`)
  console.log("\ntop functions by self time (µs per message):")
  for (const [name, us] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, 45)) console.log(`${per(us)}  ${name}`)
  console.log(`\nprofile: ${join(tmpdir(), `receive-one-${which}.cpuprofile`)}, bundle: ${join(tmpdir(), `receive-one-${which}-worker.js`)}`)
} finally {
  await worker.dispose()
  rmSync(storage, { recursive: true, force: true })
}
