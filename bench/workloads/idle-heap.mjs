// Heap per idle connection: the V8 heap (not RSS) that N idle sockets cost on one object, while
// the object is awake and after workerd has evicted it with the sockets kept (hibernation), for this
// library's room and channel, the raw hibernation-API floor and partyserver (hibernating), with a
// control cell that opens no socket at all (what the method reads as noise).
import { startBenchServer } from "../harness/server.mjs"
import { openHeapProbe } from "../harness/heap.mjs"
import { sleep, waitFor } from "../harness/load.mjs"
import { closeAll, connectTarget, payloadOf, publishFrame, seqOf, settle, TARGETS } from "./fanoutClients.mjs"

const NONE = "none"
const TARGET_KEYS = [NONE, "observedRoom", "observedChannel", "loop", "partyHibernating"]
const LABELS = { [NONE]: "no sockets (control)", ...Object.fromEntries(TARGET_KEYS.slice(1).map((key) => [key, TARGETS[key].label])) }
const FLOOR = TARGETS.loop.label
// workerd evicts an object after 10 s without events (hibernatable sockets do not keep it); a few seconds more for margin.
const IDLE_MS = 14_000
/**
 * V8 flags of this workload's workerd. `--expose-gc` for the collections. The others keep the
 * code's own memory still while data is measured: by default V8 flushes bytecode that has not run
 * for a few collections (each reading runs six) and compiles hot functions (Sparkplug, Maglev,
 * TurboFan) whenever they get hot, so a library with a lot of code reads ±200 KB from one reading to
 * the next whatever its data did. With these, four rounds of 300 sockets opened and closed on fresh
 * rooms returned within 7-13 KB of the same heap each time. Memory only: the CPU figures of the
 * other workloads never run with them.
 */
export const V8_FLAGS = ["--expose-gc", "--no-flush-bytecode", "--no-sparkplug", "--no-maglev", "--no-turbofan"]

/** Constructions of the object so far (asking wakes it: call only after the wake). The floor and the library count constructions, partyserver its onStart() calls. */
const constructionsOf = async (server, target, id) => {
  const path = TARGETS[target].grantPrefix !== undefined ? `/bench-observed/constructions/${TARGETS[target].library}/${encodeURIComponent(id)}` : TARGETS[target].path(id)
  const response = await fetch(`${server.url}${path}`)
  if (!response.ok) throw new Error(`constructions of ${target} ${id}: ${response.status} ${await response.text()}`)
  const body = await response.json()
  return body.constructions ?? body.starts
}

const perConnection = (after, before, connections) => ({
  used: (after.usedBytes - before.usedBytes) / connections,
  external: (after.externalBytes - before.externalBytes) / connections,
})

/**
 * One run on its own workerd (the `wrangler dev` command line, for its inspector, with `--expose-gc`): the heap baseline then holds
 * only this run's code and the warm-up, and nothing another workload left behind.
 */
const runIdleHeap = async ({ log }, { target, n }) => {
  const server = await startBenchServer({ inspector: true, v8Flags: V8_FLAGS })
  const probe = await openHeapProbe(server)
  try {
    return target === NONE ? await measureNothing(probe, n) : await measureTarget(server, probe, log, target, n)
  } finally {
    probe.close()
    await server.stop()
  }
}

/** The control: the same readings and waits with no socket; its figures are the method's noise in the same units. */
const measureNothing = async (probe, n) => {
  const baseline = await probe.afterGc()
  await sleep(1000)
  const one = await probe.afterGc()
  await sleep(1000)
  const all = await probe.afterGc()
  await sleep(IDLE_MS)
  const idle = await probe.afterGc()
  return {
    bytesAwake: perConnection(all, one, n).used,
    bytesHibernated: perConnection(idle, baseline, n + 1).used,
    externalBytesHibernated: perConnection(idle, baseline, n + 1).external,
    objectKib: (one.usedBytes - baseline.usedBytes) / 1024,
    baselineMib: baseline.usedBytes / 2 ** 20,
  }
}

const measureTarget = async (server, probe, log, target, n) => {
  const id = `idle-heap-${target}-${n}-${Date.now()}`
  // Warm-up: the whole run once on another object of the same class (N sockets, one message),
  // closed, then left until workerd evicts it. The code the run uses is then compiled (bytecode,
  // feedback, hidden classes: ~0.6 MB for this library's room the first time 300 sockets join, kept
  // for as long as the code lives) before the baseline, so the figures are the connections' data.
  const warmup = await connectTarget(server, target, `${id}-warmup`, n, () => {})
  warmup.publisher.send(publishFrame(target, payloadOf(0, 64)))
  await sleep(300)
  await closeAll(warmup.sockets)
  await sleep(IDLE_MS)
  const baseline = await probe.afterGc()

  let lastFrameAt = performance.now()
  let woke = 0
  const onFrame = (data, index) => {
    lastFrameAt = performance.now()
    if (index !== -1 && seqOf(data) === 0) woke++
  }
  // The object with its one publisher socket: its own cost, apart from the connections'.
  const first = await connectTarget(server, target, id, 0, onFrame)
  const sockets = [...first.sockets]
  try {
    first.publisher.send(publishFrame(target, payloadOf(1, 64)))
    await settle(() => lastFrameAt)
    const one = await probe.afterGc()
    const rest = await connectTarget(server, target, id, n, onFrame, { withPublisher: false })
    sockets.push(...rest.sockets)
    await settle(() => lastFrameAt)
    const all = await probe.afterGc()
    await sleep(IDLE_MS)
    const idle = await probe.afterGc()
    // Wake it: one message to every receiver proves the sockets survived, and the construction
    // count shows whether the object was evicted and built again in between.
    first.publisher.send(publishFrame(target, payloadOf(0, 64)))
    const delivered = await waitFor(() => woke >= n, 30_000)
    await settle(() => lastFrameAt)
    const woken = await probe.afterGc()
    const constructions = await constructionsOf(server, target, id)
    if (!delivered) log(`only ${woke} of ${n} receivers got the wake message`)
    return {
      bytesAwake: perConnection(all, one, n).used,
      bytesHibernated: perConnection(idle, baseline, n + 1).used,
      externalBytesHibernated: perConnection(idle, baseline, n + 1).external,
      bytesWoken: perConnection(woken, baseline, n + 1).used,
      objectKib: (one.usedBytes - baseline.usedBytes) / 1024,
      baselineMib: baseline.usedBytes / 2 ** 20,
      deliveredFraction: woke / n,
      hibernated: constructions >= 2 ? 1 : 0,
    }
  } finally {
    await closeAll(sockets)
  }
}

export default {
  name: "idle-heap",
  title: "Heap per idle connection, awake and hibernated",
  description: `RSS cannot show what hibernation frees (V8 and the allocator keep freed pages), so this reads the V8 heap of the
Worker's isolate after full garbage collections: workerd runs with \`--expose-gc\` (and with bytecode flushing and the
optimising tiers off, so the code's own memory holds still between readings), \`POST /bench/heap/gc\` (bench/heapRoute.ts)
collects, and \`Runtime.getHeapUsage\` over wrangler dev's inspector reads the used size (bench/harness/heap.mjs). Under
wrangler dev the Worker and every object share that isolate. Each run starts its own workerd and first runs the same N
sockets and one message on another object of the class, closed and left ${IDLE_MS / 1000} s to be evicted, so the code is
compiled before the baseline. Then one publisher socket (the heap it adds is *object KiB*: the awake object with one
connection), then N idle receivers: *bytes/connection awake* is the heap they add, divided by N. After ${IDLE_MS / 1000} s idle
(workerd evicts an object 10 s after its last event; its hibernatable sockets stay open), *bytes/connection hibernated* is
the heap above the baseline divided by the N + 1 sockets, *external* the same for ArrayBuffer backing stores. The publisher
then sends one message: *delivered* is the share of receivers that got it, *hibernated* is 1 when the object was constructed
again for it (so it had been evicted), and *bytes/connection woken* is the heap above the baseline once the woken object has
delivered it (its fixed cost, ~*object KiB*, included). The control cell opens no socket and takes the same readings: its
figures are the method's noise in the same units (divided by N).`,
  primary: { key: "bytesAwake", label: "heap bytes/connection awake", short: "awake", digits: 0 },
  columns: [
    { key: "bytesHibernated", label: "heap bytes/connection hibernated", digits: 0 },
    { key: "externalBytesHibernated", label: "external bytes/connection hibernated", digits: 0 },
    { key: "bytesWoken", label: "heap bytes/connection woken", digits: 0 },
    { key: "objectKib", label: "object KiB (1 socket)", digits: 0 },
    { key: "baselineMib", label: "baseline heap MiB", digits: 1 },
    { key: "deliveredFraction", label: "delivered", digits: 3 },
    { key: "hibernated", label: "hibernated", digits: 0 },
  ],
  runs: 3,
  // Each run starts its own server (a heap, not CPU): a warm-up on the benchmark server warms nothing it reads.
  warmup: false,
  timeoutMs: 240_000,
  cells: ({ quick }) => {
    const n = quick ? 200 : 1000
    return TARGET_KEYS.map((target) => ({ group: `${n.toLocaleString("en-US")} idle sockets`, target: LABELS[target], floor: FLOOR, params: { target, n } }))
  },
  run: (context, cell) => runIdleHeap(context, cell.params),
}
