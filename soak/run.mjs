// Load and soak on loopback against the example app on `wrangler dev` (bounded; stops by itself).
//
//   npm run soak                 # the default sizes (a few minutes)
//   npm run soak -- --quick      # small sizes, for a smoke run
//
// Scenarios: sockets held in one room; a fixed publish rate to a room with many receivers
// (publish-to-delivery p50/p99 at the last receiver, errors); a reconnect storm; an idle
// hibernation soak (workerd CPU while idle, then one message wakes the room and reaches everyone).
// Writes soak/results.json and the "Load and soak" section of BENCHMARKS.md.
import { readFileSync, writeFileSync, existsSync } from "node:fs"
import { join } from "node:path"
import { cpus, loadavg } from "node:os"
import { startExampleApp } from "../scripts/dev-server.ts"
import { openClients, openPublisher, publishOverHttp, percentile, sleep } from "./clients.mjs"
import { workerdUsage } from "./proc.mjs"

const quick = process.argv.includes("--quick")
const sizes = quick
  ? { heldRoom: 50, heldChannel: 200, receivers: 20, rate: 20, seconds: 5, storm: 200, stormRooms: 4, idle: 100, idleSeconds: 15 }
  : { heldRoom: 300, heldChannel: 1000, receivers: 100, rate: 50, seconds: 20, storm: 1000, stormRooms: 10, idle: 500, idleSeconds: 60 }

const root = join(import.meta.dirname, "..")
const server = await startExampleApp()
const results = { date: new Date().toISOString(), quick, sizes, machine: { cores: cpus().length, cpu: cpus()[0]?.model, loadAverageAtStart: loadavg()[0].toFixed(2) }, scenarios: {} }
try {
  const base = server.url

  // 1. Sockets held by one room (every join is announced to every member: O(N^2) frames) and by
  //    one channel (no presence).
  for (const [name, kind, count] of [["heldRoom", "rooms", sizes.heldRoom], ["heldChannel", "channels", sizes.heldChannel]]) {
    const target = `${name}-${Date.now()}`
    const started = Date.now()
    const before = await workerdUsage(server.pid)
    const clients = await openClients(base, target, count, { concurrency: 50, kind })
    const usage = await workerdUsage(server.pid)
    results.scenarios[name] = {
      sockets: count,
      ready: clients.ready,
      errors: clients.errors,
      secondsToAllReady: (Date.now() - started) / 1000,
      workerdCpuMsToConnect: before && usage ? usage.cpuMs - before.cpuMs : null,
      workerdRssMiB: usage?.rssMiB ?? null,
    }
    clients.closeAll()
  }

  // 2. A fixed publish rate into one room with many receivers, published over a socket as a
  //    client would (HTTP through wrangler dev costs ~8 ms of CPU per request before our code
  //    runs); latency is measured at the last receiver.
  {
    const room = `rate-${Date.now()}`
    const clients = await openClients(base, room, sizes.receivers, { concurrency: 50 })
    const publisher = await openPublisher(base, room)
    const sentAt = new Map()
    const latencies = []
    const pending = new Map()
    clients.onMessage((message) => {
      const key = message.data?.n
      if (key === undefined || !sentAt.has(key)) return
      const seen = (pending.get(key) ?? 0) + 1
      pending.set(key, seen)
      if (seen === clients.ready) latencies.push(performance.now() - sentAt.get(key))
    })
    let errors = 0
    const total = sizes.rate * sizes.seconds
    const interval = 1000 / sizes.rate
    const start = performance.now()
    const inFlight = []
    const cpuBefore = await workerdUsage(server.pid)
    for (let n = 0; n < total; n++) {
      // Open loop: each publish leaves at its scheduled time, whatever the previous ones did.
      const due = start + n * interval
      const wait = due - performance.now()
      if (wait > 0) await sleep(wait)
      sentAt.set(n, performance.now())
      inFlight.push(publisher.publish({ type: "load", data: { n } }).then((ok) => (ok ? undefined : errors++)))
    }
    await Promise.all(inFlight)
    await sleep(1000)
    const cpuAfter = await workerdUsage(server.pid)
    const delivered = latencies.length
    results.scenarios.rate = {
      receivers: clients.ready,
      messagesPerSecond: sizes.rate,
      messages: total,
      fullyDelivered: delivered,
      errors,
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      maxMs: percentile(latencies, 100),
      workerdCpuMsPerDeliveredFrame: cpuBefore && cpuAfter ? (cpuAfter.cpuMs - cpuBefore.cpuMs) / Math.max(1, delivered * clients.ready) : null,
    }
    clients.closeAll()
    publisher.close()
  }

  // 3. A reconnect storm: every client at once.
  {
    const room = `storm-${Date.now()}`
    const started = Date.now()
    const clients = await openClients(base, room, sizes.storm, { concurrency: sizes.storm, rooms: sizes.stormRooms })
    results.scenarios.storm = { clients: sizes.storm, rooms: sizes.stormRooms, ready: clients.ready, errors: clients.errors, secondsToAllReady: (Date.now() - started) / 1000 }
    clients.closeAll()
  }

  // 4. Idle hibernation soak: quiet sockets should cost no CPU; one message still reaches all.
  {
    const room = `idle-${Date.now()}`
    const clients = await openClients(base, room, sizes.idle, { concurrency: 50 })
    await sleep(12_000) // past the runtime's hibernation delay
    const before = await workerdUsage(server.pid)
    await sleep(sizes.idleSeconds * 1000)
    const after = await workerdUsage(server.pid)
    let received = 0
    clients.onMessage((message) => {
      if (message.type === "wake") received++
    })
    const sent = performance.now()
    await publishOverHttp(base, room, { type: "wake" })
    while (received < clients.ready && performance.now() - sent < 10_000) await sleep(20)
    results.scenarios.idle = {
      sockets: clients.ready,
      idleSeconds: sizes.idleSeconds,
      workerdCpuMsWhileIdle: before && after ? after.cpuMs - before.cpuMs : null,
      workerdRssMiB: after?.rssMiB ?? null,
      wakeDeliveredTo: received,
      wakeMsToAll: received === clients.ready ? performance.now() - sent : null,
    }
    clients.closeAll()
  }
} finally {
  await server.stop()
}

writeFileSync(join(root, "soak/results.json"), `${JSON.stringify(results, null, 2)}\n`)
const s = results.scenarios
const section = `<!-- soak:start -->
## Load and soak (issue 8)

\`npm run soak\`${quick ? " -- --quick" : ""} on ${results.date.slice(0, 10)}, example app on \`wrangler dev\` (local), Node load generator on loopback, ${results.machine.cores} × ${results.machine.cpu}, load average ${results.machine.loadAverageAtStart} at start (other work was running beside it when that is above ~1). Raw figures: \`soak/results.json\`.

| scenario | figure |
| --- | --- |
| sockets held by one room (members) | ${s.heldRoom.ready} of ${s.heldRoom.sockets} ready in ${s.heldRoom.secondsToAllReady.toFixed(1)} s, ${s.heldRoom.errors} errors, ${s.heldRoom.workerdCpuMsToConnect ?? "n/a"} ms workerd CPU, RSS ${s.heldRoom.workerdRssMiB ?? "n/a"} MiB |
| sockets held by one channel | ${s.heldChannel.ready} of ${s.heldChannel.sockets} ready in ${s.heldChannel.secondsToAllReady.toFixed(1)} s, ${s.heldChannel.errors} errors, ${s.heldChannel.workerdCpuMsToConnect ?? "n/a"} ms workerd CPU, RSS ${s.heldChannel.workerdRssMiB ?? "n/a"} MiB |
| ${s.rate.messagesPerSecond} msg/s into one room, ${s.rate.receivers} receivers, ${s.rate.messages} messages | p50 ${s.rate.p50Ms?.toFixed(1)} ms, p99 ${s.rate.p99Ms?.toFixed(1)} ms, max ${s.rate.maxMs?.toFixed(1)} ms publish-to-last-receiver; ${s.rate.fullyDelivered} fully delivered, ${s.rate.errors} errors; ${s.rate.workerdCpuMsPerDeliveredFrame?.toFixed(3) ?? "n/a"} ms workerd CPU per delivered frame |
| reconnect storm (${s.storm.rooms} rooms, all at once) | ${s.storm.ready} of ${s.storm.clients} clients ready in ${s.storm.secondsToAllReady.toFixed(1)} s, ${s.storm.errors} errors |
| idle hibernation soak | ${s.idle.sockets} quiet sockets for ${s.idle.idleSeconds} s: ${s.idle.workerdCpuMsWhileIdle ?? "n/a"} ms workerd CPU; then one message reached ${s.idle.wakeDeliveredTo} sockets in ${s.idle.wakeMsToAll?.toFixed(0) ?? "n/a"} ms |

The p99 target is 250 ms with zero errors.
<!-- soak:end -->`
const benchPath = join(root, "BENCHMARKS.md")
const existing = existsSync(benchPath) ? readFileSync(benchPath, "utf8") : "# Benchmarks\n"
const next = existing.includes("<!-- soak:start -->") ? existing.replace(/<!-- soak:start -->[\s\S]*<!-- soak:end -->/, section) : `${existing.trimEnd()}\n\n${section}\n`
writeFileSync(benchPath, next)
console.log(section)
const failed =
  s.rate.p99Ms === null || s.rate.p99Ms > 250 || s.rate.errors > 0 || s.storm.errors > 0 || s.heldRoom.errors > 0 || s.heldChannel.errors > 0 || s.idle.wakeDeliveredTo !== s.idle.sockets
process.exitCode = failed ? 1 : 0
