// Where does workerd's CPU go for one database write? Starts the benchmark Worker with a fixed
// inspector port, takes a V8 CPU profile of the isolate (the Worker and its Durable Objects share
// it under wrangler dev) while writing at a fixed rate to one target, and prints self time by
// function and by source area. Not part of `npm run bench`; findings go to bench/notes/db.md.
//
//   node bench/dbflow/profile.mjs [library|in-shard|floor] [rate=50] [seconds=4] [subscribers=1] [http|worker]
// `worker` issues the measured writes inside the Worker (the burst route): no HTTP request per write.
import { writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { closeAll, openLoop, openMany, openSocket, sleep } from "../harness/load.mjs"
import { openInspector, selfUsByNode, startInspectedDev } from "../tools/lib/inspectedDev.mjs"

const [which = "library", rate = "50", seconds = "4", subscribers = "1", writer = "http"] = process.argv.slice(2)
const server = await startInspectedDev("dbflow-profile")
const { url } = server
try {
  const inspector = await openInspector(server.inspectorPort)
  const { call } = inspector

  const tenantId = `profile-${Date.now()}`
  const write = (row) =>
    fetch(which !== "floor" ? `${url}/dbflow/${which}/write` : `${url}/floor/dbflow/${tenantId}/write`, { method: "POST", body: JSON.stringify(row) }).then((response) => response.arrayBuffer())
  let received = 0
  let sockets
  if (which !== "floor") {
    const grant = await (await fetch(`${url}/dbflow/${which}/grant/${tenantId}`)).json()
    sockets = await openMany(Number(subscribers), () => openSocket(`${url.replace("http", "ws")}${grant.url}`, { protocols: grant.protocols, isReady: (data) => JSON.parse(data.toString()).type === "ready", onFrame: () => received++ }))
  } else {
    sockets = await openMany(Number(subscribers), () => openSocket(`${url.replace("http", "ws")}/floor/dbflow/${tenantId}/ws`, { onFrame: () => received++ }))
  }
  for (let index = 0; index < 20; index++) await write({ id: `${tenantId}-w${index}`, tenantId, title: "warm" })
  await sleep(1000)

  await call("Debugger.enable")
  await call("Profiler.enable")
  await call("Profiler.setSamplingInterval", { interval: 100 })
  await call("Profiler.start")
  const pending = []
  if (writer === "worker") {
    const count = Math.floor(Number(rate) * Number(seconds))
    pending.push(fetch(`${url}/dbflow/burst/${which}/${tenantId}?${new URLSearchParams({ tenant: tenantId, rate, count })}`, { method: "POST" }).then((response) => response.arrayBuffer()))
  } else {
    await openLoop({ rate: Number(rate), durationMs: Number(seconds) * 1000, operation: (index) => pending.push(write({ id: `${tenantId}-${index}`, tenantId, title: "x".repeat(40) })) })
  }
  await Promise.all(pending)
  await sleep(800)
  const { result } = await call("Profiler.stop")
  // The bundle's scripts, so the profile's `worker.js:<line>` frames can be read against its source.
  for (const { scriptId, url: scriptUrl } of inspector.scripts) {
    if (!scriptUrl.endsWith("worker.js")) continue
    const { result: source } = await call("Debugger.getScriptSource", { scriptId })
    writeFileSync(join(tmpdir(), `dbflow-${which}-worker.js`), source.scriptSource)
  }
  await closeAll(sockets)
  inspector.close()
  console.log(`profile: ${join(tmpdir(), `dbflow-${which}.cpuprofile`)}, bundle: ${join(tmpdir(), `dbflow-${which}-worker.js`)}`)
  writeFileSync(join(tmpdir(), `dbflow-${which}.cpuprofile`), JSON.stringify(result.profile))

  // Self time per node, from sample counts and time deltas.
  const profile = result.profile
  const selfUs = selfUsByNode(profile)
  const byFunction = new Map()
  const byArea = new Map()
  const areaOf = (frame) => {
    const file = frame.url ?? ""
    if (file === "") return frame.functionName.startsWith("(") ? frame.functionName : "(native / runtime)"
    if (file.includes("node_modules/effect") || file.includes("/effect/")) return "effect"
    if (file.includes("/src/")) return `src/${file.split("/src/")[1].split("/")[0]}`
    if (file.includes("/bench/")) return "bench"
    return file.split("/").slice(-2).join("/")
  }
  let total = 0
  for (const node of profile.nodes) {
    const us = selfUs.get(node.id) ?? 0
    total += us
    const frame = node.callFrame
    const key = `${frame.functionName || "(anonymous)"} ${(frame.url ?? "").split("/").slice(-2).join("/")}:${frame.lineNumber + 1}`
    byFunction.set(key, (byFunction.get(key) ?? 0) + us)
    byArea.set(areaOf(frame), (byArea.get(areaOf(frame)) ?? 0) + us)
  }
  const writes = Math.floor(Number(rate) * Number(seconds))
  const busy = total - (byArea.get("(idle)") ?? 0)
  console.log(`${which}: ${writes} writes, ${received} frames; isolate busy ${(busy / 1000).toFixed(0)} ms = ${(busy / writes).toFixed(0)} µs/write (profile of the JS isolate only)`)
  console.log("\nby area (µs per write):")
  for (const [area, us] of [...byArea].sort((a, b) => b[1] - a[1]).slice(0, 20)) console.log(`  ${(us / writes).toFixed(0).padStart(6)}  ${area}`)
  console.log("\ntop functions by self time (µs per write):")
  for (const [name, us] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, 40)) console.log(`  ${(us / writes).toFixed(1).padStart(7)}  ${name}`)
} finally {
  await server.stop()
}
