// The benchmark Worker on `wrangler dev` (fresh local storage), and the CPU time of its workerd processes.
import { join } from "node:path"
import { freePort, startExampleApp } from "../../scripts/dev-server.ts"
import { workerdUsage } from "../../soak/proc.mjs"
import { heapUsedAfterGc } from "./heap.mjs"

/** `inspector: true` serves the isolate's inspector on a known port, for `heapUsedBytes()`. */
export const startBenchServer = async ({ inspector = false } = {}) => {
  const inspectorPort = inspector ? await freePort() : undefined
  const server = await startExampleApp({ config: join(import.meta.dirname, "..", "wrangler.toml"), label: "bench", inspectorPort })
  const usage = async () => {
    const sample = await workerdUsage(server.pid)
    if (sample === undefined) throw new Error("no workerd process found under wrangler dev")
    return sample
  }
  return {
    url: server.url,
    wsUrl: server.url.replace(/^http/, "ws"),
    stop: server.stop,
    /** Cumulative CPU milliseconds (user + system) of the workerd processes; 10 ms resolution. */
    cpuMs: async () => (await usage()).cpuMs,
    /** Resident memory of the workerd processes, MiB. */
    rssMiB: async () => (await usage()).rssMiB,
    /** V8 heap in use after a full GC, bytes (only when started with `inspector: true`, else undefined). */
    heapUsedBytes: async () => (inspectorPort === undefined ? undefined : heapUsedAfterGc(inspectorPort)),
  }
}
