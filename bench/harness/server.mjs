// The benchmark Worker on wrangler's dev server (fresh local storage), and the CPU time of its workerd processes.
import { randomBytes } from "node:crypto"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { unstable_startWorker } from "wrangler"
import { startExampleApp } from "../../scripts/dev-server.ts"
import { cpuClock, workerdPidsUnder } from "./procs.mjs"

/**
 * wrangler dev (4.x) runs a local observability collector by default: a streaming tail worker
 * that receives every invocation's trace (each WebSocket message is one) and stores it through
 * JS RPC into SQLite. It cost ~100 µs of workerd CPU per event here, 75% of what receiving and
 * applying one Yjs frame costs, and it exists only in local dev, so it would hide the servers'
 * own work. Off unless X_LOCAL_OBSERVABILITY is set (true gives the figures before 2026-11-30 15:00 UTC).
 */
const LOCAL_OBSERVABILITY = process.env.X_LOCAL_OBSERVABILITY ?? "false"

const CONFIG = join(import.meta.dirname, "..", "wrangler.toml")

/**
 * The `wrangler dev` command line always starts workerd with a devtools inspector and a second
 * workerd in front of it (wrangler's dev proxy). With an inspector, workerd traces every async
 * step for it (`InspectorSink::onAfter`), at a cost per event that grows with the events the
 * process has handled: 6-14% of workerd's CPU over 20,000 Yjs frames, 60% over the 259,778 of the
 * whole automerge-paper trace (Linux perf, bench/tools/perf-yjs-ingest.mjs). So the benchmark
 * starts the same Worker through wrangler's own API (`unstable_startWorker`: the same Miniflare,
 * bindings and local storage) with the inspector off. wrangler's dev proxy stays in front (its
 * workerd's CPU is counted with the Worker's, as under the command line). BENCH_WRANGLER_CLI=1 uses
 * the command line instead (the conditions of figures before 2026-11-30 ~15:35 UTC).
 */
const startWithoutInspector = async () => {
  const storage = mkdtempSync(join(tmpdir(), "durable-realtime-bench-"))
  const workerdBefore = new Set(workerdPidsUnder(process.pid))
  const worker = await unstable_startWorker({
    config: CONFIG,
    // Grants fail closed without a secret: each server gets its own random one.
    bindings: { REALTIME_GRANT_SECRET: { type: "plain_text", value: randomBytes(32).toString("hex") } },
    dev: { server: { hostname: "127.0.0.1", port: 0 }, inspector: false, persist: storage, watch: false, logLevel: "warn" },
  })
  await worker.ready
  const url = (await worker.url).origin
  // Two workerd processes serve it: wrangler's dev proxy (the URL) and, started at the first
  // request, the Worker's own. Both are children of this process, beside any other server this
  // process started (the wake and idle-heap workloads start one per run while the main one runs).
  // Miniflare may replace a workerd process when it reloads its options, keeping its loopback
  // address: those addresses, not pids, name this server's workerd processes.
  await (await fetch(url)).arrayBuffer()
  const loopbackOf = (pid) => /--external-addr=loopback=\S+?(?=\u0000|$)/.exec(readFileSync(`/proc/${pid}/cmdline`, "utf8"))?.[0]
  let started = []
  for (let tries = 0; tries < 50 && started.length < 2; tries++) {
    if (tries > 0) await new Promise((resolve) => setTimeout(resolve, 100))
    started = workerdPidsUnder(process.pid).filter((pid) => !workerdBefore.has(pid))
  }
  if (started.length !== 2) throw new Error(`expected two new workerd processes for the dev server (proxy and Worker), found ${started.length}`)
  const loopbacks = started.map(loopbackOf)
  if (loopbacks.some((token) => token === undefined)) throw new Error("a workerd of the dev server has no loopback address")
  return {
    url,
    pid: started[0],
    pids: () => workerdPidsUnder(process.pid).filter((pid) => loopbacks.includes(loopbackOf(pid))),
    stop: async () => {
      await worker.dispose()
      rmSync(storage, { recursive: true, force: true })
    },
  }
}

const startWithCli = () => startExampleApp({ config: CONFIG, label: "bench" })

/**
 * `inspector: true` starts it with the command line, whose devtools inspector (behind wrangler's
 * proxy) the idle-heap workload reads the V8 heap through (bench/harness/heap.mjs); a workload
 * that asks for it measures memory, not CPU. `v8Flags`: V8 command-line flags for this server's
 * workerd (`--expose-gc` for the heap). Miniflare reads them from MINIFLARE_WORKERD_V8_FLAGS when
 * it starts workerd, so the variable is set only while this server starts and restored after.
 */
export const startBenchServer = async ({ inspector = false, v8Flags = [] } = {}) => {
  process.env.X_LOCAL_OBSERVABILITY = LOCAL_OBSERVABILITY
  const previousFlags = process.env.MINIFLARE_WORKERD_V8_FLAGS
  if (v8Flags.length > 0) process.env.MINIFLARE_WORKERD_V8_FLAGS = v8Flags.join(" ")
  let server
  try {
    server = inspector || process.env.BENCH_WRANGLER_CLI === "1" ? await startWithCli() : await startWithoutInspector()
  } finally {
    if (previousFlags === undefined) delete process.env.MINIFLARE_WORKERD_V8_FLAGS
    else process.env.MINIFLARE_WORKERD_V8_FLAGS = previousFlags
  }
  // The command line's server names wrangler's pid: its workerd processes are the ones under it.
  const clock = cpuClock(server.pids ?? (() => workerdPidsUnder(server.pid)))
  const usage = async () => {
    const sample = clock.read()
    if (sample === undefined) throw new Error("no workerd process found under the dev server")
    return sample
  }
  return {
    url: server.url,
    wsUrl: server.url.replace(/^http/, "ws"),
    stop: server.stop,
    /** The process the server's workerd processes descend from, or are: wrangler's (command line) or its one workerd now (API). */
    get pid() {
      return server.pids?.()[0] ?? server.pid
    },
    /**
     * Cumulative CPU milliseconds of the workerd processes, at ns resolution from schedstat (10 ms
     * ticks where the kernel has none; see cpuClock in procs.mjs).
     */
    cpuMs: async () => (await usage()).cpuMs,
    /** The whole reading: cpuMs, tickCpuMs (the 10 ms tick figure), threads, exitedThreads, source. */
    cpuSample: usage,
    /** Resident memory of the workerd processes, MiB. */
    rssMiB: async () => (await usage()).rssMiB,
  }
}
