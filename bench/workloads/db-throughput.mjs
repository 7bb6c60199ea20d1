// Database shard throughput: writes issued inside the Worker (the db workload's burst route, no
// HTTP request per write) at a rate stepped up until the shard no longer keeps up, one subscriber;
// one row per call, or BATCH rows per call (insertMany), so the per-call cost of the issuing
// Worker (which shares the shard's thread under wrangler dev) is not the only thing measured.
// A step is sustained when the p99 commit → delivery latency stays under 250 ms and every change of
// the step arrives within 250 ms of the step's end; the figure is the highest sustained rate.
import { closeAll, openMany, sleep, waitFor } from "../harness/load.mjs"
import { latencyHistogram } from "../harness/stats.mjs"
import { FLOOR, LIBRARY, LIBRARY_IN_SHARD, targetFor } from "./db.mjs"

const RATES = [100, 150, 200, 250, 300, 400, 500, 700, 1000, 1500, 2000, 3000]
/** Rows per call of the batched cells (`insertMany` / the floor's `writeMany`), and their steps in rows/s. */
const BATCH = 25
const BATCH_RATES = [250, 500, 1000, 1500, 2000, 3000, 4000, 5000, 7000, 10000]
/** Steps in a row that must miss before the ramp stops (one 2 s step can miss on a scheduler hiccup of a shared machine). */
const MISSES_TO_STOP = 2
const STEP_MS = 2000
const P99_LIMIT_MS = 250
/** A step that did not hold: wait this long at most for its backlog before the next (harder) step is skipped. */
const BACKLOG_MS = 20_000
const WARMUP_WRITES = 20

const runRamp = async ({ server, run, log, quick }, cell) => {
  const batch = cell.params.batch ?? 1
  const rates = batch === 1 ? RATES : BATCH_RATES
  const runId = `tp-${cell.target === LIBRARY ? "lib" : cell.target === LIBRARY_IN_SHARD ? "libshard" : "floor"}-${run}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`
  const target = targetFor(server, cell.target, runId)
  // Per step: which row indexes belong to it, when each was due, when the step's last change arrived.
  let step
  let warm = 0
  const onFrame = (data) => {
    const receivedAt = Date.now()
    const frame = JSON.parse(data.toString())
    if (frame.type !== "database.change") return
    const id = frame.new?.id ?? ""
    const index = Number(id.slice(id.lastIndexOf("-") + 1))
    if (step === undefined || !Number.isInteger(index) || index < step.from) return void warm++
    step.delivered++
    step.lastAt = receivedAt
    step.commit.record(receivedAt - Date.parse(frame.createdAt))
    step.due.record(receivedAt - Number(String(frame.new.title).slice(4)))
  }
  await target.prepare()
  const sockets = await openMany(1, () => target.subscribe(onFrame))
  try {
    // Warm-up (boots the shard and hub, or the floor object): delivered before the ramp starts.
    await target.burst(50, WARMUP_WRITES, 0, Math.min(batch, WARMUP_WRITES))
    if (!(await waitFor(() => warm >= WARMUP_WRITES, 15_000))) throw new Error(`warm-up not delivered (${warm}/${WARMUP_WRITES})`)
    await sleep(700)
    let from = WARMUP_WRITES
    let best = { sustainedWritesPerS: 0 }
    let misses = 0
    for (const rate of quick ? rates.slice(0, 3) : rates) {
      const count = Math.round((rate * STEP_MS) / 1000)
      step = { from, delivered: 0, lastAt: 0, commit: latencyHistogram(), due: latencyHistogram() }
      const cpuBefore = await server.cpuMs()
      const startedAt = Date.now()
      const answer = await target.burst(rate, count, from, batch)
      const issuedMs = Date.now() - startedAt
      const allIn = await waitFor(() => step.delivered >= count, BACKLOG_MS)
      const cpuMs = (await server.cpuMs()) - cpuBefore
      const endMs = (allIn ? step.lastAt : Date.now()) - startedAt
      const figures = {
        rate,
        delivered: step.delivered,
        failed: answer.failed,
        commitP99Ms: step.commit.percentileMs(99),
        dueP99Ms: step.due.percentileMs(99),
        lastAfterStepMs: endMs - STEP_MS,
        issuedMs,
        cpuUsPerWrite: (cpuMs * 1000) / count,
      }
      const held = allIn && answer.failed === 0 && figures.commitP99Ms < P99_LIMIT_MS && figures.lastAfterStepMs < P99_LIMIT_MS
      log(`${rate} writes/s: ${JSON.stringify(figures)}${held ? "" : " — not sustained"}`)
      from += count
      misses = held ? 0 : misses + 1
      if (misses >= MISSES_TO_STOP) break
      if (!held) continue
      best = {
        sustainedWritesPerS: rate,
        commitP99Ms: figures.commitP99Ms,
        dueP99Ms: figures.dueP99Ms,
        cpuUsPerWrite: figures.cpuUsPerWrite,
      }
      await sleep(500)
    }
    return best
  } finally {
    await closeAll(sockets)
  }
}

export default {
  name: "db-throughput",
  title: "Database shard throughput (writes inside the Worker, 1 subscriber)",
  description: `One shard, one tenant, one subscriber socket. The Worker itself issues the writes open-loop (the db workload's
burst route: \`dbflow.table("posts").insert(row)\` for the library, an RPC \`write(row)\` to the row + outbox floor object),
${STEP_MS / 1000} s per step at ${RATES.join(", ")} writes/s, one step after the other on the same shard/object. The
*${BATCH} rows per call* group issues the same rows ${BATCH} at a time (\`insertMany(rows)\`: one transaction with their outbox
rows, one drain round; the floor's \`writeMany(rows)\`: one transaction, one frame per row, one publish mark) at
${BATCH_RATES.join(", ")} rows/s. A step is
*sustained* when every write succeeds, the p99 from each change's commit (\`createdAt\`) to its arrival at the subscriber is
under ${P99_LIMIT_MS} ms, and the step's last change arrives within ${P99_LIMIT_MS} ms of the step's end (so a backlog that
queues before the commit counts too); the ramp stops after ${MISSES_TO_STOP} steps in a row that are not (each step starts
once the previous one's changes have all arrived). The figure is the highest sustained
rate (quantised to the steps); the other columns are that step's. Under \`wrangler dev\` the Worker, the shard, the hub
and the floor share one isolate and one thread, so the Worker's own loop is in every figure, for both targets alike.`,
  primary: { key: "sustainedWritesPerS", label: "sustained writes/s (p99 commit→delivery < 250 ms)", short: "writes/s", digits: 0 },
  columns: [
    { key: "commitP99Ms", label: "commit→delivery p99 ms" },
    { key: "dueP99Ms", label: "scheduled→delivery p99 ms" },
    { key: "cpuUsPerWrite", label: "CPU µs / write", digits: 0 },
  ],
  runs: 3,
  timeoutMs: 300_000,
  cells: () => [
    { group: "one shard, 1 subscriber, 1 row per call", target: LIBRARY, floor: FLOOR, params: { batch: 1 } },
    { group: "one shard, 1 subscriber, 1 row per call", target: LIBRARY_IN_SHARD, floor: FLOOR, params: { batch: 1 } },
    { group: "one shard, 1 subscriber, 1 row per call", target: FLOOR, floor: FLOOR, params: { batch: 1 } },
    { group: `one shard, 1 subscriber, ${BATCH} rows per call`, target: LIBRARY, floor: FLOOR, params: { batch: BATCH } },
    { group: `one shard, 1 subscriber, ${BATCH} rows per call`, target: LIBRARY_IN_SHARD, floor: FLOOR, params: { batch: BATCH } },
    { group: `one shard, 1 subscriber, ${BATCH} rows per call`, target: FLOOR, floor: FLOOR, params: { batch: BATCH } },
  ],
  run: runRamp,
}
