// Where workerd's CPU goes while one cell of any workload runs, JavaScript included: Linux `perf`
// on both workerd processes of a bench server (wrangler's dev proxy and the Worker's), recording
// only between the cell's two `server.cpuMs()` reads (its measured phase), with workerd started
// with `--perf-basic-prof --interpreted-frames-native-stack` so JIT frames carry the bundle's
// function and line. Prints samples per process, then for the Worker's main thread the innermost
// `src/` frame of each sample (native work below it counted to it) and the modules on the stack.
// The V8 inspector's profile (what `wrangler dev`'s command line offers) was too distorted by the
// inspector itself and by a loaded machine to rank costs of ~100 µs.
//
//   node bench/tools/perf-workload.mjs <workload> <target substring> [runs=1] [param=value ...]
//   e.g. node bench/tools/perf-workload.mjs yjs-join "CRDT room" 5
//        node bench/tools/perf-workload.mjs room-fill "durable-realtime room"
//        node bench/tools/perf-workload.mjs db "row + outbox floor" 2 writer=worker durationMs=5000 "target=row + outbox floor, two hops"
// Needs `perf` and permission to attach (root here). Data: /tmp/perf-<workload>.data, the bundle
// its frames name: /tmp/perf-<workload>-bundle/. Figures per unit: per run of the cell.
import { execFileSync, spawn } from "node:child_process"
import { cpSync, openSync, readFileSync, readSync, readdirSync, rmSync, writeSync } from "node:fs"
import { join } from "node:path"
import { startBenchServer } from "../harness/server.mjs"
import { workerdPidsUnder } from "../harness/procs.mjs"
import { workloads } from "../workloads/index.mjs"
import { bundleModules } from "./bundleModules.mjs"
import { readPerfSamples, samplesPerThread, workerThreadOf } from "./lib/perfSamples.mjs"

const [workloadName, targetPart = "", runsArg = "1", ...overrides] = process.argv.slice(2)
const workload = workloads.find((candidate) => candidate.name === workloadName)
if (workload === undefined) throw new Error(`unknown workload ${workloadName}: ${workloads.map((candidate) => candidate.name).join(", ")}`)
const cell = workload.cells({ quick: false }).find((candidate) => candidate.target.includes(targetPart))
if (cell === undefined) throw new Error(`no cell of ${workloadName} whose target contains "${targetPart}"`)
for (const override of overrides) {
  const [key, value] = override.split("=")
  // `target=<name>`: a target the workload can run but does not list in its cells (the db workload's two-hop floor).
  if (key === "target") cell.target = value
  else cell.params[key] = Number.isNaN(Number(value)) ? value : Number(value)
}
const runs = Number(runsArg)
// PERF_DATA=<path>: where the data goes (its bundle copy beside it, `<path>-bundle`), to keep several recordings apart.
const data = process.env.PERF_DATA ?? `/tmp/perf-${workloadName}.data`
const bundleCopy = process.env.PERF_DATA === undefined ? `/tmp/perf-${workloadName}-bundle` : `${process.env.PERF_DATA}-bundle`
const HZ = 2000

const server = await startBenchServer({ v8Flags: ["--perf-basic-prof", "--interpreted-frames-native-stack"] })
try {
  // Warm-up: bundles compiled, classes loaded, documents loaded.
  await workload.run({ server, quick: false, log: () => {}, run: 0 }, cell)
  const pids = workerdPidsUnder(process.pid)
  // perf's control fifos: recording is enabled and disabled at the cell's own CPU reads.
  const control = `${data}-ctl`
  const ack = `${data}-ack`
  rmSync(control, { force: true })
  rmSync(ack, { force: true })
  execFileSync("mkfifo", [control, ack])
  const perf = spawn(
    "perf",
    ["record", "-F", String(HZ), "-g", "-D", "-1", "--control", `fifo:${control},${ack}`, "-p", pids.join(","), "-o", data],
    { stdio: "inherit" },
  )
  const controlFd = openSync(control, "w")
  const ackFd = openSync(ack, "r")
  let recording = false
  const toggle = () => {
    writeSync(controlFd, recording ? "disable\n" : "enable\n")
    readSync(ackFd, Buffer.alloc(5))
    recording = !recording
  }
  const measured = {
    ...server,
    cpuMs: async () => {
      const value = await server.cpuMs()
      toggle()
      return value
    },
  }
  for (let run = 1; run <= runs; run++)
    console.log(JSON.stringify(await workload.run({ server: measured, quick: false, log: () => {}, run }, cell)))
  perf.kill("SIGINT")
  await new Promise((resolve) => perf.once("exit", resolve))
  // The bundle is removed with the server: kept so the frames' lines can be read.
  rmSync(bundleCopy, { recursive: true, force: true })
  cpSync(join(import.meta.dirname, "..", ".wrangler", "tmp"), bundleCopy, { recursive: true })
} finally {
  await server.stop()
}

const samples = readPerfSamples(data)
const byThread = samplesPerThread(samples)
console.log(
  `samples per thread (${HZ} Hz, ms per run): ${[...byThread].map(([tid, count]) => `${tid}: ${((count * 1000) / HZ / runs).toFixed(0)}`).join(", ")}`,
)

// The Worker's main thread: the thread with the most samples that ran the bundle.
const dir = readdirSync(bundleCopy).find((name) => name.startsWith("dev-"))
const bundle = readFileSync(join(bundleCopy, dir, "worker.js"), "utf8")
const moduleOf = bundleModules(bundle, { firstLine: 1 })
const jsFrame = (frame) => {
  const match = /JS:(\S*)\s+worker\.js:(\d+):\d+/.exec(frame)
  if (match === null) return undefined
  const line = Number(match[2])
  return { module: moduleOf(line), key: `${moduleOf(line)} ${match[1].replace(/^[*^+~']+/, "") || "(anonymous)"}:${line}` }
}
const worker = workerThreadOf(samples, byThread)
const innermostSrc = new Map()
const modules = new Map()
let total = 0
for (const sample of samples) {
  if (sample.tid !== worker) continue
  total++
  const frames = sample.frames.map(jsFrame).filter((frame) => frame !== undefined)
  const src = frames.find((frame) => frame.module.includes("src/"))
  innermostSrc.set(
    src?.key ?? "(no src/ frame: runtime, sockets, Effect, libraries)",
    (innermostSrc.get(src?.key ?? "(no src/ frame: runtime, sockets, Effect, libraries)") ?? 0) + 1,
  )
  for (const module of new Set(frames.map((frame) => frame.module))) modules.set(module, (modules.get(module) ?? 0) + 1)
}
const top = (map, n) =>
  [...map]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(
      ([key, count]) =>
        `${((100 * count) / total).toFixed(1).padStart(5)}% ${((count * 1e6) / HZ / runs / 1000).toFixed(1).padStart(8)} ms/run  ${key}`,
    )
    .join("\n")
console.log(
  `\nWorker thread ${worker}: ${total} samples; innermost src/ frame (native work below it counted to it):\n${top(innermostSrc, 30)}`,
)
console.log(`\nmodules on the stack (inclusive):\n${top(modules, 25)}`)
console.log(`\nperf data ${data}, bundle ${bundleCopy}`)
process.exit(0)
