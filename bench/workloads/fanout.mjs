// Fan-out: one publisher, N receivers, open-loop publish at a fixed rate; workerd CPU per
// delivered frame, publish→last-recipient latency, delivered fraction. Connecting is measured
// apart (a room announces every join to every member, so its connect cost grows as N²).
import { openLoop, waitFor } from "../harness/load.mjs"
import { latencyHistogram } from "../harness/stats.mjs"
import { closeAll, connectTarget, FLOOR, payloadOf, publishFrame, seqOf, settle, TARGETS } from "./fanoutClients.mjs"

const TARGET_KEYS = ["room", "channel", "loop", "partyHibernating", "partyInMemory"]

// Rates chosen so no target saturates (the figure is CPU per frame, not throughput) while each
// run delivers tens of thousands of frames (≥ 300 ms of workerd CPU at the floor).
const SIZES = [
  { n: 1, rate: 200 },
  { n: 100, rate: 40 },
  { n: 1000, rate: 5 },
]
const DURATION_MS = 3000

// The 64 B and 1 KiB cells of one target, N and run share one set of sockets (connecting 1,000
// room members takes tens of seconds): the first cell leaves them open here, the next takes them.
let held

const takeHeld = async (key) => {
  const previous = held
  held = undefined
  if (previous?.key === key) return previous
  if (previous !== undefined) await closeAll(previous.connected.sockets)
  return undefined
}

/** Hand over whatever sockets are held (for a caller that ends a chain of cells early). */
export const takeHeldForRelease = () => {
  const previous = held
  held = undefined
  return previous
}

const connectFresh = async (server, target, id, n) => {
  const state = { key: undefined, sink: () => {}, connectFrames: 0, lastFrameAt: performance.now() }
  const onFrame = (data, index) => {
    state.lastFrameAt = performance.now()
    if (index !== -1) state.sink(data)
  }
  state.sink = (data) => {
    if (seqOf(data) < 0) state.connectFrames++
  }
  state.connected = await connectTarget(server, target, id, n, onFrame)
  await settle(() => state.lastFrameAt)
  state.connectCpuMs = (await server.cpuMs()) - state.connected.cpuBefore
  return state
}

/** Run one cell: connect (or take the sockets the previous cell left), publish for `durationMs`, wait for delivery. */
export const runFanout = async ({ server, run }, { target, n, bytes, rate, durationMs, shareKey, keepOpen = false, drainMs = 10_000, seqBase = 0 }) => {
  const key = shareKey === undefined ? undefined : `${shareKey}-${run}`
  const state = (key === undefined ? undefined : await takeHeld(key)) ?? (await connectFresh(server, target, `fanout-${target}-${n}-${bytes}-${run}-${Date.now()}`, n))
  let keep = false
  try {
    const total = Math.floor((durationMs / 1000) * rate)
    const scheduled = new Float64Array(total)
    const received = new Uint32Array(total)
    const latency = latencyHistogram()
    let delivered = 0
    let stray = 0
    state.sink = (data) => {
      const seq = seqOf(data) - seqBase // seqBase: a previous cell's late frames on shared sockets are not this cell's
      if (seq < 0 || seq >= total) return void stray++
      delivered++
      if (++received[seq] === n) latency.record(performance.now() - scheduled[seq])
    }
    await settle(() => state.lastFrameAt, 200)
    const cpuBefore = await server.cpuMs()
    const sent = await openLoop({
      rate,
      durationMs,
      operation: (seq, scheduledAt) => {
        scheduled[seq] = scheduledAt
        state.connected.publisher.send(publishFrame(target, payloadOf(seqBase + seq, bytes)))
      },
    })
    const expected = sent * n
    await waitFor(() => delivered >= expected, drainMs)
    const cpuMs = (await server.cpuMs()) - cpuBefore
    keep = keepOpen && key !== undefined
    if (keep) {
      state.key = key // the same object: the socket handlers read `state.sink`
      held = state
    }
    return {
      cpuUsPerFrame: delivered === 0 ? null : (cpuMs * 1000) / delivered,
      p50Ms: latency.percentileMs(50),
      p99Ms: latency.percentileMs(99),
      deliveredFraction: delivered / expected,
      frames: delivered,
      cpuMs,
      strayFrames: stray,
      connectCpuMs: state.connectCpuMs,
      connectFrames: state.connectFrames,
    }
  } finally {
    if (!keep) await closeAll(state.connected.sockets)
  }
}

export default {
  name: "fanout",
  title: "Fan-out to N subscribers",
  description: `One publisher socket and N receiver sockets on one object; the publisher sends at a fixed open-loop rate
(N = 1: 200 msg/s, N = 100: 40 msg/s, N = 1,000: 5 msg/s, for ${DURATION_MS / 1000} s), rates low enough that no target saturates.
The library sends a client \`broadcast\` frame (ephemeral, sender excluded: the same work as a raw relay that stores
nothing); the floor is a hibernation-API Durable Object that loops \`ws.send\` over a cached \`getWebSockets()\` list;
partyserver is its README's \`onMessage → this.broadcast(message, [connection.id])\`, hibernating and in memory.
CPU is measured over the publish phase only (from the end of connecting to the last delivery).
Latency is from each message's scheduled send time to its last recipient. *connect CPU* is the workerd CPU to open
the N + 1 sockets and let every frame they cause arrive (grants excluded; the 64 B and 1 KiB cells of a run share
one set of sockets, so both show the same connect figures); *connect frames* counts the frames
receivers got while connecting (a room's \`ready\`/\`joined\` announcements).`,
  primary: { key: "cpuUsPerFrame", label: "workerd CPU µs per delivered frame", short: "CPU/frame", digits: 1 },
  columns: [
    { key: "p50Ms", label: "p50 ms" },
    { key: "p99Ms", label: "p99 ms" },
    { key: "deliveredFraction", label: "delivered", digits: 3 },
    { key: "connectCpuMs", label: "connect CPU ms", digits: 0 },
    { key: "connectFrames", label: "connect frames", digits: 0 },
  ],
  timeoutMs: 180_000,
  cells: ({ quick }) => {
    const sizes = quick ? SIZES.filter((size) => size.n <= 100) : SIZES
    const payloads = quick ? [64] : [64, 1024]
    // Target-major inside each N, so a target's payload cells run back to back on one set of sockets.
    return sizes.flatMap(({ n, rate }) =>
      TARGET_KEYS.flatMap((target) =>
        payloads.map((bytes, index) => ({
          group: `N = ${n.toLocaleString("en-US")}, ${bytes === 1024 ? "1 KiB" : `${bytes} B`}, ${rate} msg/s`,
          target: TARGETS[target].label,
          floor: FLOOR,
          params: { target, n, bytes, rate, durationMs: quick ? 2000 : DURATION_MS, shareKey: `${target}-${n}`, keepOpen: index < payloads.length - 1 },
        })),
      ),
    )
  },
  run: (context, cell) => runFanout(context, cell.params),
}
