// Not a benchmark: proves the harness end to end (grant, socket, ready, CPU sample) in seconds.
import { closeAll, grantFor, openSocket } from "../harness/load.mjs"

export default {
  name: "smoke",
  hidden: true, // run only when named; never in the report
  title: "Harness smoke check",
  description: "Opens one socket to a library room and reads the workerd CPU counter. Not part of the report's claims.",
  primary: { key: "connectMs", label: "connect-to-ready ms" },
  columns: [{ key: "cpuMs", label: "workerd CPU ms during connect" }],
  cells: () => [{ group: "one socket", target: "durable-realtime room", floor: "durable-realtime room", params: {} }],
  run: async ({ server, run }) => {
    const before = await server.cpuMs()
    const started = performance.now()
    const grant = await grantFor(server, "rooms", `smoke-${run}-${Date.now()}`, "smoke")
    const socket = await openSocket(`${server.wsUrl}${grant.url}`, { protocols: grant.protocols, isReady: (data) => JSON.parse(data.toString()).type === "ready" })
    const connectMs = performance.now() - started
    await closeAll([socket])
    return { connectMs, cpuMs: (await server.cpuMs()) - before }
  },
}
