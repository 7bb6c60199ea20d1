// The benchmark Worker on `wrangler dev` (fresh local storage), and the CPU time of its workerd processes.
import { join } from "node:path"
import { startExampleApp } from "../../scripts/dev-server.ts"
import { workerdUsage } from "../../soak/proc.mjs"

/**
 * wrangler dev (4.x) runs a local observability collector by default: a streaming tail worker
 * that receives every invocation's trace (each WebSocket message is one) and stores it through
 * JS RPC into SQLite. It cost ~100 µs of workerd CPU per event here, 75% of what receiving and
 * applying one Yjs frame costs, and it exists only in local dev, so it would hide the servers'
 * own work. Off unless X_LOCAL_OBSERVABILITY is set (true gives the figures before 2026-11-30 15:00 UTC).
 */
const LOCAL_OBSERVABILITY = process.env.X_LOCAL_OBSERVABILITY ?? "false"

export const startBenchServer = async () => {
  process.env.X_LOCAL_OBSERVABILITY = LOCAL_OBSERVABILITY
  const server = await startExampleApp({ config: join(import.meta.dirname, "..", "wrangler.toml"), label: "bench" })
  const usage = async () => {
    const sample = await workerdUsage(server.pid)
    if (sample === undefined) throw new Error("no workerd process found under wrangler dev")
    return sample
  }
  return {
    url: server.url,
    wsUrl: server.url.replace(/^http/, "ws"),
    stop: server.stop,
    /** The wrangler process; the workerd processes are its descendants. */
    pid: server.pid,
    /** Cumulative CPU milliseconds (user + system) of the workerd processes; 10 ms resolution. */
    cpuMs: async () => (await usage()).cpuMs,
    /** Resident memory of the workerd processes, MiB. */
    rssMiB: async () => (await usage()).rssMiB,
  }
}
