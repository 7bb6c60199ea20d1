// Targets measured side by side in short chunks instead of one after another: every target's
// sockets stay open for the whole run, and the run is `rounds` rounds of one `chunkMs` open-loop
// chunk per target (the first target rotating by round), each chunk's workerd CPU read around it
// and added to its target's. On this shared 2-core machine the load from other work changes over
// tens of seconds, so two targets measured in consecutive 4 s cells saw different machines: their
// ratio spread 8-16 % run to run whether the cells lasted 4 or 12 s (bench/notes/receive-one.md,
// "Harness precision (session 7)"). In chunks of one second alternating through the run, every
// target sees the same minutes. Used by the receive-one, publish and db (writes inside the Worker) workloads (`runTogether`, see
// bench/README.md "Targets side by side").
import { latencyHistogram } from "../harness/stats.mjs"
import { openLoop, sleep, waitFor } from "../harness/load.mjs"
import { closeAll, connectTarget, payloadOf, publishFrame, seqOf, settle } from "./fanoutClients.mjs"

/** Between one chunk's end and the next chunk's first CPU read: the previous chunk's stragglers are nobody's. */
const GAP_MS = 50

/**
 * The alternation itself. Each side (already connected) has either `send(index, scheduledAt)` for
 * its `index`-th operation (counted over the whole run; this paces them at `rate`) or
 * `chunk(base)`, which issues one chunk's operations from index `base` itself and resolves to how
 * many it issued; and `caughtUp(sent)`: whether everything the first `sent` operations cause has
 * arrived. A chunk ends when its side has caught up (or after `drainMs`), then `settleMs` more
 * (work a side does later, e.g. a drain job, counted in its own chunk). Returns per side
 * `{ cpuMs, sent, caughtUp }` (caughtUp: every chunk caught up in time).
 */
export const alternateChunks = async ({ server }, { sides, rate, chunkMs, rounds, drainMs = 10_000 }) => {
  const totals = sides.map(() => ({ cpuMs: 0, sent: 0, caughtUp: true }))
  for (let round = 0; round < rounds; round++) {
    for (let turn = 0; turn < sides.length; turn++) {
      const index = (round + turn) % sides.length
      const [side, total] = [sides[index], totals[index]]
      await sleep(GAP_MS)
      const cpuBefore = await server.cpuMs()
      const base = total.sent
      if (side.chunk !== undefined) total.sent = base + (await side.chunk(base))
      else
        await openLoop({
          rate,
          durationMs: chunkMs,
          operation: (offset, scheduledAt) => {
            total.sent = base + offset + 1 // before the send: its answer may come back before the next
            side.send(base + offset, scheduledAt)
          },
        })
      if (!(await waitFor(() => side.caughtUp(total.sent), drainMs))) total.caughtUp = false
      if (side.settleMs !== undefined) await sleep(side.settleMs)
      total.cpuMs += (await server.cpuMs()) - cpuBefore
    }
  }
  return totals
}

/** One fan-out target (fanoutClients key) with one receiver, as a side: frames numbered by `seq`. */
const receiverSide = async (server, target, id, bytes) => {
  const side = { lastFrameAt: performance.now(), delivered: 0, stray: 0, issued: 0, scheduled: [], latency: latencyHistogram() }
  side.connected = await connectTarget(server, target, id, 1, (data, index) => {
    side.lastFrameAt = performance.now()
    if (index === -1) return
    const seq = seqOf(data)
    if (seq < 0) return
    if (seq >= side.issued) return void side.stray++
    side.delivered++
    side.latency.record(performance.now() - side.scheduled[seq])
  })
  await settle(() => side.lastFrameAt)
  side.connectCpuMs = (await server.cpuMs()) - side.connected.cpuBefore
  side.send = (seq, scheduledAt) => {
    side.scheduled[seq] = scheduledAt
    side.issued = seq + 1
    side.connected.publisher.send(publishFrame(target, payloadOf(seq, bytes)))
  }
  side.caughtUp = (sent) => side.delivered >= sent
  return side
}

/**
 * One receive-one run over every target of `targets` (fanoutClients keys), one receiver each:
 * `rounds` × `chunkMs` of `rate` msg/s of `bytes`-byte payloads per target. One figures object per
 * target, in order: CPU µs per delivered frame over all its chunks, latency, delivered fraction.
 */
export const runReceiversSideBySide = async (context, { targets, rate, bytes, chunkMs, rounds }) => {
  const sides = []
  try {
    for (const target of targets) sides.push(await receiverSide(context.server, target, `receive-chunks-${target}-${context.run}-${Date.now()}`, bytes))
    const totals = await alternateChunks(context, { sides, rate, chunkMs, rounds })
    return sides.map((side, index) => ({
      cpuUsPerFrame: side.delivered === 0 ? null : (totals[index].cpuMs * 1000) / side.delivered,
      p50Ms: side.latency.percentileMs(50),
      p99Ms: side.latency.percentileMs(99),
      deliveredFraction: side.delivered / totals[index].sent,
      frames: side.delivered,
      cpuMs: totals[index].cpuMs,
      strayFrames: side.stray,
      connectCpuMs: side.connectCpuMs,
    }))
  } finally {
    for (const side of sides) await closeAll(side.connected.sockets)
  }
}
