// Issue 4's storage figures, library only: the whole automerge-paper trace replayed into one CRDT
// room over y-websocket, 10 edits per update (a provider sends one update per transaction; an editor
// binding that batches a burst of keystrokes sends about this), at 200 updates/s so the compaction
// job runs as configured (a saturating stream starves its alarm under wrangler dev), then `compact()`. Stored bytes after compaction vs `Y.encodeStateAsUpdate(doc).byteLength`, and write
// amplification (bytes written to storage ÷ update bytes received, from `documentStats()`).
// Hidden: run on its own (`npm run bench -- yjs-storage --runs 1`); figures go to bench/notes/yjs-join.md.
import { sleep, waitFor } from "../harness/load.mjs"
import { connectYjs } from "./yjs/client.mjs"
import { LIBRARY, targets } from "./yjs/targets.mjs"
import { applyEdit, loadTrace } from "./yjs/trace.mjs"

const WINDOW = 2000 // updates in flight at most, so the socket's buffers stay small
const EDITS_PER_UPDATE = 10
const UPDATES_PER_SECOND = 200

const statsOf = async (server, id) => (await fetch(`${server.url}/bench/crdt/${encodeURIComponent(id)}/stats`)).json()

export default {
  name: "yjs-storage",
  hidden: true,
  title: "CRDT room storage after the whole automerge-paper trace (library only)",
  description: `${EDITS_PER_UPDATE} edits per update over y-websocket at ${UPDATES_PER_SECOND} updates/s (the whole trace: 25,978 updates; 20,000 edits with \`--quick\`), then \`compact()\`.`,
  primary: { key: "writeAmplification", label: "bytes written ÷ update bytes received", short: "write amp." },
  columns: [
    { key: "storedBytesAfterCompact", label: "stored bytes after compact()" },
    { key: "encodedBytes", label: "Y.encodeStateAsUpdate bytes" },
    { key: "storedBytesBeforeCompact", label: "stored bytes before compact()" },
    { key: "receivedBytes", label: "update bytes received" },
    { key: "writtenBytes", label: "bytes written" },
    { key: "cpuUsPerUpdate", label: "workerd CPU µs per update (1 editor, 1 viewer)" },
  ],
  timeoutMs: 900_000,
  cells: () => [{ group: `whole trace, ${EDITS_PER_UPDATE} edits per update`, target: LIBRARY, floor: LIBRARY, params: {} }],
  run: async ({ server, quick, log }) => {
    const target = targets[LIBRARY]
    const { edits } = loadTrace()
    const count = quick ? 20_000 : edits.length
    const id = `yjs-storage-${Date.now()}`
    const viewer = await connectYjs(await target.endpoint(server, id, "viewer", "viewer"))
    const editor = await connectYjs(await target.endpoint(server, id, "editor", "editor"))
    try {
      const text = editor.doc.getText("content")
      const cpuBefore = await server.cpuMs()
      const started = performance.now()
      let sent = 0
      for (let index = 0; index < count; index += EDITS_PER_UPDATE) {
        const due = started + (sent * 1000) / UPDATES_PER_SECOND
        if (due - performance.now() > 1) await sleep(due - performance.now())
        editor.doc.transact(() => {
          for (let edit = index; edit < Math.min(count, index + EDITS_PER_UPDATE); edit++) applyEdit(text, edits[edit])
        })
        sent++
        if (sent - viewer.stats.updateFrames >= WINDOW) await waitFor(() => sent - viewer.stats.updateFrames < WINDOW / 2, 60_000)
        if (sent % 5000 === 0) log(`${sent} updates sent, ${((performance.now() - started) / 1000).toFixed(0)} s`)
      }
      if (!(await waitFor(() => viewer.stats.updateFrames >= sent, 120_000))) throw new Error(`viewer got ${viewer.stats.updateFrames} of ${sent} updates`)
      await sleep(1000) // the compaction job, if due
      const cpuMs = (await server.cpuMs()) - cpuBefore
      if (viewer.doc.getText("content").toString() !== text.toString()) throw new Error("viewer did not converge")
      const before = await statsOf(server, id)
      await fetch(`${server.url}/bench/crdt/${encodeURIComponent(id)}/compact`, { method: "POST" })
      const after = await statsOf(server, id)
      log(`${sent} updates in ${((performance.now() - started) / 1000).toFixed(0)} s; before ${JSON.stringify(before)}; after ${JSON.stringify(after)}`)
      return {
        writeAmplification: after.writtenBytes / after.receivedBytes,
        storedBytesAfterCompact: after.storedBytes,
        encodedBytes: after.encodedBytes,
        storedBytesBeforeCompact: before.storedBytes,
        receivedBytes: after.receivedBytes,
        writtenBytes: after.writtenBytes,
        writtenRows: after.writtenRows,
        updates: sent,
        cpuUsPerUpdate: (cpuMs * 1000) / sent,
      }
    } finally {
      await Promise.all([viewer.close(), editor.close()])
    }
  },
}
