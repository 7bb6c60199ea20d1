// Room fill: N socket members join one room, against N subscribers joining one channel (which
// has no membership). workerd CPU from the first handshake until the last frame the joins cause
// has arrived, time until every socket has its `ready`, and the frames and bytes the joins cost.
import { closeAll, connectTarget, settle } from "./fanoutClients.mjs"

const CHANNEL = "durable-realtime channel"

/** One cell: connect `n` receivers (+ the publisher socket connectTarget always opens) and let every frame arrive. */
const runFill = async ({ server, run }, { target, n }) => {
  let frames = 0
  let bytes = 0
  let lastFrameAt = performance.now()
  const connected = await connectTarget(server, target, `room-fill-${target}-${n}-${run}-${Date.now()}`, n, (data) => {
    frames++
    bytes += data.length
    lastFrameAt = performance.now()
  })
  try {
    const allReadyMs = connected.connectMs
    const startedAt = performance.now() - connected.connectMs
    await settle(() => lastFrameAt, 1000, 120_000)
    const cpuMs = (await server.cpuMs()) - connected.cpuBefore
    return {
      fillCpuMs: cpuMs,
      cpuUsPerMember: (cpuMs * 1000) / (n + 1),
      allReadyMs,
      // until the last announcement arrived
      settledMs: Math.max(allReadyMs, lastFrameAt - startedAt),
      framesAfterReady: frames,
      kibAfterReady: bytes / 1024,
    }
  } finally {
    await closeAll(connected.sockets)
  }
}

export default {
  name: "room-fill",
  title: "Filling a room: N members join",
  description: `N + 1 sockets connect to one fresh object, 50 handshakes at a time (grants fetched beforehand and
excluded). For a room each socket is a member (its own user id); a channel has no membership, so it is the floor:
the least work a subscription can cost in this library. *fill CPU* is the workerd CPU from the first handshake until
no frame has arrived for 1 s (every announcement the joins caused delivered; the idle second is in it for both
targets); *all ready* the wall time until every socket had its \`ready\`; *frames* and *KiB* what receivers got after
their own \`ready\` (membership announcements; a channel gets none).`,
  primary: { key: "fillCpuMs", label: "workerd CPU ms to fill", short: "fill CPU", digits: 0 },
  columns: [
    { key: "cpuUsPerMember", label: "CPU µs per member", digits: 0 },
    { key: "allReadyMs", label: "all ready ms", digits: 0 },
    { key: "settledMs", label: "last announcement ms", digits: 0 },
    { key: "framesAfterReady", label: "frames after ready", digits: 0 },
    { key: "kibAfterReady", label: "KiB after ready", digits: 0 },
  ],
  timeoutMs: 300_000,
  runs: 3,
  cells: ({ quick }) =>
    (quick ? [100] : [1000]).flatMap((n) => [
      { group: `N = ${n.toLocaleString("en-US")}`, target: CHANNEL, floor: CHANNEL, params: { target: "channel", n } },
      { group: `N = ${n.toLocaleString("en-US")}`, target: "durable-realtime room", floor: CHANNEL, params: { target: "room", n } },
    ]),
  run: (context, cell) => runFill(context, cell.params),
}
