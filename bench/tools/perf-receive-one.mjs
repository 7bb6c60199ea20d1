// Native CPU profile (Linux `perf`) of the benchmark Worker's workerd processes while one
// receive-one target takes 64 B frames at 200/s: where the runtime spends a message's time outside
// JavaScript, and in which JavaScript function the rest goes (V8 writes perf maps), none of which
// the V8 profile over the inspector (profile-workload.mjs receive-one) shows. Needs `perf` and
// permission to attach (root here). Development tool; findings go to bench/notes/receive-one.md.
//
//   node bench/tools/perf-receive-one.mjs [room|channel|loop] [seconds=10] [out=/tmp/receive-one-<target>.perf]
// Prints, for the Worker's workerd (the busier process), CPU µs per message in all and inclusive
// under a few frames (the runtime's hibernatable-message event, the handler's JavaScript, its
// send, JSON, compilation); for more, `perf report -i <out> --no-children --sort dso,sym`.
import { execFileSync, spawn } from "node:child_process"
import { startBenchServer } from "../harness/server.mjs"
import { closeAll, openLoop, sleep, waitFor } from "../harness/load.mjs"
import { workerdPidsUnder } from "../harness/procs.mjs"
import { connectTarget, payloadOf, publishFrame, seqOf } from "../workloads/fanoutClients.mjs"

const [which = "room", secondsArg = "10", out = `/tmp/receive-one-${which}.perf`] = process.argv.slice(2)
const rate = 200
const HZ = 4000
/** Frames whose inclusive time is printed: a sample counts under each one its stack holds. */
const MARKERS = [
  ["the runtime's event for one hibernatable message", "HibernatableWebSocketCustomEvent::run"],
  ["the handler's JavaScript (webSocketMessage)", "webSocketMessage worker"],
  ["WebSocket send", "workerd::api::WebSocket::send"],
  ["JSON.parse", "Builtin_JsonParse"],
  ["JSON.stringify", "Builtin_JsonStringify"],
  ["Date toISOString", "ToISOString"],
  ["JIT compilation", "Compile"],
  ["garbage collection (scavenge)", "Scaveng"],
]

/** Inclusive CPU µs per message of each marker, in the process with the most samples. */
const summarize = (file, messages) => {
  const text = execFileSync("perf", ["script", "-i", file, "-F", "pid,ip,sym"], { maxBuffer: 1 << 30, stdio: ["ignore", "pipe", "ignore"] }).toString()
  const stacks = []
  for (const block of text.split("\n\n")) {
    const lines = block.split("\n").filter((line) => line.trim() !== "")
    if (lines.length > 0) stacks.push({ pid: lines[0].trim().split(/\s+/)[0], frames: lines.slice(1).join("\n") })
  }
  const perPid = new Map()
  for (const stack of stacks) perPid.set(stack.pid, (perPid.get(stack.pid) ?? 0) + 1)
  const [pid, total] = [...perPid].sort((x, y) => y[1] - x[1])[0]
  const us = (samples) => ((samples * 1e6) / HZ / messages).toFixed(1).padStart(7)
  console.log(`workerd ${pid}: ${us(total)} µs per message in all (perf samples)`)
  for (const [label, marker] of MARKERS) console.log(`${us(stacks.filter((stack) => stack.pid === pid && stack.frames.includes(marker)).length)}  ${label}`)
}
// V8 writes /tmp/perf-<pid>.map, so perf names the JavaScript functions too.
const server = await startBenchServer({ v8Flags: ["--perf-basic-prof", "--interpreted-frames-native-stack"] })
try {
  let delivered = 0
  const onFrame = (data, index) => {
    if (index !== -1 && seqOf(data) >= 0) delivered++
  }
  // A warm-up object first (bundle compiled, class loaded), then the profiled one.
  const warm = await connectTarget(server, which, `warm-${Date.now()}`, 1, () => {})
  await openLoop({ rate, durationMs: 1000, operation: (seq) => warm.publisher.send(publishFrame(which, payloadOf(seq, 64))) })
  await closeAll(warm.sockets)
  const connected = await connectTarget(server, which, `perf-${which}-${Date.now()}`, 1, onFrame)
  await sleep(500)
  // Every workerd of this server (wrangler's dev proxy and the Worker's own): both are counted by the benchmark.
  const pids = workerdPidsUnder(process.pid)
  const perf = spawn("perf", ["record", "-F", String(HZ), "-g", "-p", pids.join(","), "-o", out], { stdio: "inherit" })
  await sleep(500)
  const cpuBefore = await server.cpuMs()
  const sent = await openLoop({ rate, durationMs: Number(secondsArg) * 1000, operation: (seq) => connected.publisher.send(publishFrame(which, payloadOf(seq, 64))) })
  await waitFor(() => delivered >= sent, 10_000)
  const cpuMs = (await server.cpuMs()) - cpuBefore
  perf.kill("SIGINT")
  await new Promise((resolve) => perf.once("exit", resolve))
  console.log(JSON.stringify({ which, sent, delivered, cpuUsPerMessage: Math.round((cpuMs * 1000) / delivered), pids, out }))
  summarize(out, delivered)
  await closeAll(connected.sockets)
} finally {
  await server.stop()
}
process.exit(0)
