// The benchmark Worker on `wrangler dev` (fresh local storage), and the CPU time of its workerd processes.
import { join } from "node:path"
import { startExampleApp } from "../../scripts/dev-server.ts"
import { workerdUsage } from "../../soak/proc.mjs"

export const startBenchServer = async () => {
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
    /** Cumulative CPU milliseconds (user + system) of the workerd processes; 10 ms resolution. */
    cpuMs: async () => (await usage()).cpuMs,
    /** Resident memory of the workerd processes, MiB. */
    rssMiB: async () => (await usage()).rssMiB,
  }
}
