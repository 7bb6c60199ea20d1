// Receiving one client message: the fan-out workload at N = 1 (one publisher, one receiver), where
// the cost per delivered frame is the cost of taking one inbound frame in, not of fanning it out.
import { FLOOR, TARGETS } from "./fanoutClients.mjs"
import { runFanout } from "./fanout.mjs"
import { runReceiversSideBySide } from "./interleavedChunks.mjs"

const TARGET_KEYS = ["room", "channel", "loop"]
const RATE = 200
/** Per run and target: ROUNDS chunks of CHUNK_MS (1,600 frames), the targets' chunks alternating. */
const CHUNK_MS = 1000
const ROUNDS = 8
const QUICK_ROUNDS = 2

export default {
  name: "receive-one",
  title: "Receiving one client message (N = 1)",
  description: `The fan-out workload's N = 1 cell on its own, with more runs: one publisher socket sends a 64 B client
\`broadcast\` frame (the library) or the bare payload (the raw loop) at ${RATE} msg/s, one receiver gets it.
With one recipient the workerd CPU per delivered frame is what receiving and handling one inbound WebSocket message costs
(the runtime's event per hibernatable message, admission, validation, the send). The targets run side by side: each run
holds all three objects open and sends ${ROUNDS} chunks of ${CHUNK_MS / 1000} s per target (${(ROUNDS * CHUNK_MS * RATE) / 1000} frames), the targets' chunks
alternating (the first one rotating), each chunk's CPU read around it, so every target sees the same minutes of a shared machine.`,
  primary: { key: "cpuUsPerFrame", label: "workerd CPU µs per received message", short: "CPU/msg", digits: 0 },
  columns: [
    { key: "p50Ms", label: "p50 ms" },
    { key: "p99Ms", label: "p99 ms" },
    { key: "deliveredFraction", label: "delivered", digits: 3 },
  ],
  runs: 5,
  timeoutMs: 180_000,
  cells: ({ quick }) =>
    TARGET_KEYS.map((target) => ({
      group: `N = 1, 64 B, ${RATE} msg/s`,
      target: TARGETS[target].label,
      floor: FLOOR,
      params: { target, n: 1, bytes: 64, rate: RATE, chunkMs: CHUNK_MS, rounds: quick ? QUICK_ROUNDS : ROUNDS },
    })),
  /** The whole run, every target in alternating chunks (what `npm run bench` measures). */
  runTogether: (context, cells) => {
    const { rate, bytes, chunkMs, rounds } = cells[0].params
    return runReceiversSideBySide(context, { targets: cells.map((cell) => cell.params.target), rate, bytes, chunkMs, rounds })
  },
  /** One target alone for the same frames in one stretch (the profiling, perf and A/B tools run cells one by one). */
  run: (context, cell) => runFanout(context, { ...cell.params, durationMs: cell.params.durationMs ?? cell.params.chunkMs * cell.params.rounds }),
}
