// Waking a hibernated room: N idle sockets, left alone past the runtime's hibernation delay, then
// one published message; the time and workerd CPU until every socket has it, the CPU burnt while
// idle, and the workerd memory each idle connection holds (awake, then after hibernation).
import { startBenchServer } from "../harness/server.mjs"
import { sleep, waitFor } from "../harness/load.mjs"
import { closeAll, connectTarget, FLOOR, payloadOf, publishFrame, seqOf, settle, TARGETS } from "./fanoutClients.mjs"

const TARGET_KEYS = ["room", "loop", "partyHibernating", "partyInMemory"]
// workerd evicts a hibernatable object after 10 s without events; a few seconds more for margin.
const IDLE_MS = 14_000
const QUICK_IDLE_MS = 11_500

/** Whether the object was evicted and built again: the floor counts constructions, partyserver counts onStart(). The library exposes no such counter. */
const hibernated = async (server, target, id) => {
  if (target !== "loop" && target !== "partyHibernating") return null
  const response = await fetch(`${server.url}${TARGETS[target].path(id)}`)
  if (!response.ok) return null
  const body = await response.json()
  return (body.constructions ?? body.starts ?? 0) >= 2 ? 1 : 0
}

const kibPerSocket = (deltaMiB, sockets) => (deltaMiB * 1024) / sockets

/**
 * Each run gets its own workerd (a second wrangler dev with fresh storage): RSS only ever grows in a
 * long-lived process (V8 keeps freed pages and reuses them), so a delta measured after other
 * workloads' runs can come out anywhere, even negative. A fresh process makes the baseline clean.
 */
export const runWake = async (context, params) => {
  // --quick checks that it works: it skips the second workerd (memory figures then mean little) to stay under a minute.
  if (context.quick) return runWakeOn(context, params)
  const server = await startBenchServer()
  try {
    return await runWakeOn({ ...context, server }, params)
  } finally {
    await server.stop()
  }
}

const runWakeOn = async ({ server, run, quick }, { target, n }) => {
  const id = `wake-${target}-${n}-${run}-${Date.now()}`
  let lastFrameAt = performance.now()
  let woke = 0
  let wokeAt = 0
  const onFrame = (data, index) => {
    lastFrameAt = performance.now()
    if (index !== -1 && seqOf(data) === 0 && ++woke === n) wokeAt = performance.now()
  }
  // Warm up first: a few sockets on another object of the same class, so the baseline already holds
  // the class's code and runtime and the figure is what each further connection adds.
  const warmup = await connectTarget(server, target, `${id}-warmup`, 5, () => {})
  await closeAll(warmup.sockets)
  await sleep(1000) // let closes (this run's warm-up, the previous run's sockets) finish before the memory baseline
  const rssBefore = await server.rssMiB()
  const connected = await connectTarget(server, target, id, n, onFrame)
  try {
    await settle(() => lastFrameAt)
    const rssConnected = await server.rssMiB()
    const idleCpuBefore = await server.cpuMs()
    await sleep(quick ? QUICK_IDLE_MS : IDLE_MS)
    const idleCpuMs = (await server.cpuMs()) - idleCpuBefore
    const rssIdle = await server.rssMiB()
    const cpuBefore = await server.cpuMs()
    const sentAt = performance.now()
    connected.publisher.send(publishFrame(target, payloadOf(0, 64)))
    await waitFor(() => woke >= n, 20_000)
    const wakeCpuMs = (await server.cpuMs()) - cpuBefore
    return {
      wakeCpuMs,
      wakeMs: woke >= n ? wokeAt - sentAt : null,
      deliveredFraction: woke / n,
      idleCpuMs,
      kibPerConnectionAwake: kibPerSocket(rssConnected - rssBefore, n + 1),
      kibPerConnectionIdle: kibPerSocket(rssIdle - rssBefore, n + 1),
      hibernated: await hibernated(server, target, id),
    }
  } finally {
    await closeAll(connected.sockets)
  }
}

export default {
  name: "wake",
  title: "Waking a hibernated room",
  description: `Each run starts its own workerd (fresh \`wrangler dev\`, so the memory baseline is clean). N idle receiver sockets and one
publisher socket on one object, left idle for ${IDLE_MS / 1000} s (workerd evicts an
idle hibernatable object after about 10 s), then the publisher sends one 64 B message. *wake CPU* is the workerd CPU from
that send until every receiver has the message (10 ms ticks: one event, so read it as ±10 ms), *wake ms* the time to the last
receiver, *idle CPU* the workerd CPU burnt during the idle period. Memory is the workerd RSS (whole MiB) above the run's
starting point (taken after a 5-socket warm-up on another object of the same class) divided by the sockets: once connected, and after the idle period. *hibernated* is 1 when the object was
built again on wake (the floor counts its constructions, partyserver its \`onStart\` calls; the library has no such counter,
so it shows –). partyserver in memory cannot hibernate: it is there for the memory comparison.`,
  primary: { key: "wakeCpuMs", label: "wake CPU ms", short: "wake CPU", digits: 0 },
  columns: [
    { key: "wakeMs", label: "wake ms (last receiver)", digits: 0 },
    { key: "deliveredFraction", label: "delivered", digits: 3 },
    { key: "idleCpuMs", label: `idle CPU ms (${IDLE_MS / 1000} s)`, digits: 0 },
    { key: "kibPerConnectionAwake", label: "KiB/connection connected", digits: 1 },
    { key: "kibPerConnectionIdle", label: "KiB/connection after idle", digits: 1 },
    { key: "hibernated", label: "hibernated", digits: 0 },
  ],
  runs: 3,
  // No harness warm-up: its --quick run alone takes most of a minute (an idle wait per run), for a row outside issue 16.
  warmup: false,
  timeoutMs: 180_000,
  cells: ({ quick }) => {
    const n = quick ? 100 : 1000
    return TARGET_KEYS.map((target) => ({
      group: `${n.toLocaleString("en-US")} idle sockets`,
      target: TARGETS[target].label,
      floor: FLOOR,
      params: { target, n },
    }))
  },
  run: (context, cell) => runWake(context, cell.params),
}
