// Yjs live editing: the automerge-paper trace split round-robin by chunks over 4 editors, with 10
// viewers, all speaking y-websocket. Each editor holds a Y.Doc, applies its edits at their
// open-loop scheduled times and sends the update each edit produces; latency runs from that
// scheduled time until the LAST viewer's doc holds the edit.
import { openLoop, sleep, waitFor } from "../harness/load.mjs"
import { connectYjs } from "./yjs/client.mjs"
import { makeDeliveryTracker } from "./yjs/delivery.mjs"
import { FLOOR, LIBRARY, PEER, targets } from "./yjs/targets.mjs"
import { applyEdit, loadTrace, replayLocally } from "./yjs/trace.mjs"

const EDITORS = 4
const VIEWERS = 10
const CHUNK = 50 // consecutive edits per editor turn (500 ms)
// Edits per second, all editors together: below every target's saturation on the 2-core machine
// (each update costs ~2-3 ms of workerd CPU there with 10-13 recipients through wrangler dev), so
// latency is delivery, not queueing.
const RATE = 100
// Settle after the last delivery so deferred work (library compaction job, y-partyserver's
// debounced onSave at 1 s) is counted in the CPU sample for every target alike.
const SETTLE_MS = 1500

const run = async ({ server, quick, run: runIndex, log, rate = RATE, edits: editCount }, cell) => {
  const target = targets[cell.target]
  const edits = loadTrace().edits
  const count = editCount ?? (quick ? 300 : 1500)
  const id = `yjs-edit-${cell.params.slug}-${runIndex}-${Date.now()}`
  const tracker = makeDeliveryTracker(VIEWERS)

  const viewers = []
  const editors = []
  try {
    for (let index = 0; index < VIEWERS; index++) {
      const viewer = await connectYjs(await target.endpoint(server, id, `viewer-${index}`, "viewer"))
      tracker.followViewer(viewer.doc)
      viewers.push(viewer)
    }
    let scheduledAt = 0
    for (let index = 0; index < EDITORS; index++) {
      const editor = await connectYjs(await target.endpoint(server, id, `editor-${index}`, "editor"))
      tracker.followEditor(editor.doc, () => scheduledAt)
      editors.push(editor)
    }
    const texts = editors.map((editor) => editor.doc.getText("content"))
    let clamped = 0

    const cpuBefore = await server.cpuMs()
    const started = performance.now()
    await openLoop({
      rate,
      durationMs: (count / rate) * 1000 + 1000,
      count,
      operation: (index, at) => {
        scheduledAt = at
        if (applyEdit(texts[Math.floor(index / CHUNK) % EDITORS], edits[index])) clamped++
      },
    })
    const delivered = await waitFor(() => tracker.completed >= tracker.registered, 60_000)
    const deliveredAfterMs = performance.now() - started
    await sleep(SETTLE_MS)
    const cpuMs = (await server.cpuMs()) - cpuBefore
    if (!delivered) throw new Error(`only ${tracker.completed} of ${tracker.registered} edits reached every viewer`)

    const expected = editors[0].doc.getText("content").toString()
    const diverged = [...viewers, ...editors].filter((client) => client.doc.getText("content").toString() !== expected).length
    if (diverged > 0) throw new Error(`${diverged} of ${VIEWERS + EDITORS} clients did not converge`)
    const matchesTrace = expected === replayLocally(count).getText("content").toString()

    const updates = tracker.registered
    const storage = await target.storage(server, id)
    const echoFrames = editors.reduce((sum, editor) => sum + editor.stats.unchangedUpdateFrames, 0)
    log(`${updates} updates in ${deliveredAfterMs.toFixed(0)} ms, cpu ${cpuMs} ms, clamped ${clamped}, matches trace ${matchesTrace}`)
    return {
      cpuUsPerUpdate: (cpuMs * 1000) / updates,
      p50Ms: tracker.latency.percentileMs(50),
      p99Ms: tracker.latency.percentileMs(99),
      echoPerUpdate: echoFrames / updates,
      bytesWrittenPerUpdate: storage.writtenBytes / updates,
      rowsWrittenPerUpdate: storage.writtenRows / updates,
      updates,
      matchesTrace: matchesTrace ? 1 : 0,
    }
  } finally {
    await Promise.all([...viewers, ...editors].map((client) => client.close()))
  }
}

export default {
  name: "yjs-edit",
  title: "Yjs live editing (automerge-paper trace, 4 editors, 10 viewers)",
  description: [
    `The first 1,500 edits (300 with \`--quick\`) of \`automerge-paper\` (259,778 single-character edits), round-robin in chunks of ${CHUNK} over ${EDITORS} editor clients, at ${RATE} edits/s open loop, with ${VIEWERS} viewer clients; every client speaks y-websocket (binary sync step 1/2 and update frames) and holds a Y.Doc.`,
    "Each editor applies its edit to its own doc at the scheduled time and sends the update that edit produces. Latency: scheduled time until the last viewer's doc holds the edit (found by the edit's Yjs id in the viewer's transaction: state vector for inserts, delete set for deletions).",
    `CPU: workerd CPU from the first edit until every viewer has every edit plus ${SETTLE_MS} ms (so the library's compaction job and y-partyserver's 1 s debounced save are counted), per applied update.`,
    "Echo: update frames an editor received that changed nothing in its doc (its own update sent back), per update. Bytes/rows written: library `documentStats()` (log rows and compacted bases), floor: its rows, y-partyserver: its `onSave` writes (the whole document each time).",
    "Every run fails unless all 14 clients end with the same text. (It need not equal the trace's text: an editor taking over a chunk may not yet hold the previous editor's last edit, so some positions land differently; `matchesTrace` in results.json says whether it did.)",
  ].join("\n\n"),
  primary: { key: "cpuUsPerUpdate", label: "workerd CPU µs per applied update", short: "CPU/update" },
  columns: [
    { key: "p50Ms", label: "p50 ms (last viewer)" },
    { key: "p99Ms", label: "p99 ms (last viewer)" },
    { key: "echoPerUpdate", label: "echo frames to author per update" },
    { key: "bytesWrittenPerUpdate", label: "bytes written per update" },
    { key: "rowsWrittenPerUpdate", label: "rows written per update" },
  ],
  timeoutMs: 120_000,
  cells: () =>
    [
      [LIBRARY, "library"],
      [FLOOR, "floor"],
      [PEER, "peer"],
    ].map(([target, slug]) => ({ group: `${EDITORS} editors, ${VIEWERS} viewers, ${RATE} edits/s`, target, floor: FLOOR, params: { slug } })),
  run,
}
