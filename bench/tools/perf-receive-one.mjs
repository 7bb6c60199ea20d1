// Native CPU profile (Linux `perf`) of the benchmark Worker's workerd processes while one
// receive-one target takes 64 B frames at `rate`/s: where the runtime spends a message's time
// outside JavaScript, which the V8 profile (profile-receive-one.mjs) cannot see. Needs `perf` and
// permission to attach (root here). Development tool; findings go to bench/notes/receive-one.md.
//
//   node bench/tools/perf-receive-one.mjs [room|channel|loop] [seconds=10] [out=/tmp/receive-one-<target>.perf]
// then `perf report -i <out> --no-children --sort dso,sym` (or --sort comm,dso).
import { spawn } from "node:child_process"
import { startBenchServer } from "../harness/server.mjs"
import { closeAll, openLoop, sleep, waitFor } from "../harness/load.mjs"
import { workerdPidsUnder } from "../harness/procs.mjs"
import { connectTarget, payloadOf, publishFrame, seqOf } from "../workloads/fanoutClients.mjs"

const [which = "room", secondsArg = "10", out = `/tmp/receive-one-${which}.perf`] = process.argv.slice(2)
const rate = 200
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
  const perf = spawn("perf", ["record", "-F", "4000", "-g", "-p", pids.join(","), "-o", out], { stdio: "inherit" })
  await sleep(500)
  const cpuBefore = await server.cpuMs()
  const sent = await openLoop({ rate, durationMs: Number(secondsArg) * 1000, operation: (seq) => connected.publisher.send(publishFrame(which, payloadOf(seq, 64))) })
  await waitFor(() => delivered >= sent, 10_000)
  const cpuMs = (await server.cpuMs()) - cpuBefore
  perf.kill("SIGINT")
  await new Promise((resolve) => perf.once("exit", resolve))
  console.log(JSON.stringify({ which, sent, delivered, cpuUsPerMessage: Math.round((cpuMs * 1000) / delivered), pids, out }))
  await closeAll(connected.sockets)
} finally {
  await server.stop()
}
process.exit(0)
