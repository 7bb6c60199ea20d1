// Receiving one client message: the fan-out workload at N = 1 (one publisher, one receiver), where
// the cost per delivered frame is the cost of taking one inbound frame in, not of fanning it out.
import { FLOOR, TARGETS } from "./fanoutClients.mjs"
import { runFanout } from "./fanout.mjs"

const TARGET_KEYS = ["room", "channel", "loop"]
const RATE = 200
const DURATION_MS = 4000

export default {
  name: "receive-one",
  title: "Receiving one client message (N = 1)",
  description: `The fan-out workload's N = 1 cell on its own, with more runs: one publisher socket sends a 64 B client
\`broadcast\` frame (the library) or the bare payload (the raw loop) at ${RATE} msg/s for ${DURATION_MS / 1000} s, one receiver gets it.
With one recipient the workerd CPU per delivered frame is what receiving and handling one inbound WebSocket message costs
(the runtime's event per hibernatable message, admission, validation, the send). Targets interleave within each run.`,
  primary: { key: "cpuUsPerFrame", label: "workerd CPU µs per received message", short: "CPU/msg", digits: 0 },
  columns: [
    { key: "p50Ms", label: "p50 ms" },
    { key: "p99Ms", label: "p99 ms" },
    { key: "deliveredFraction", label: "delivered", digits: 3 },
  ],
  runs: 5,
  timeoutMs: 120_000,
  cells: ({ quick }) =>
    TARGET_KEYS.map((target) => ({
      group: `N = 1, 64 B, ${RATE} msg/s`,
      target: TARGETS[target].label,
      floor: FLOOR,
      params: { target, n: 1, bytes: 64, rate: RATE, durationMs: quick ? 2000 : DURATION_MS },
    })),
  run: (context, cell) => runFanout(context, cell.params),
}
