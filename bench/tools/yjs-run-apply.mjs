// What applying a CRDT room's pending run costs per update, the way the store does it: the first N
// automerge-paper edits as one-keystroke updates (one client), checked by `inspectUpdate`, then
// applied in runs inside one Yjs transaction, (a) update by update and (b) joined into one update
// by `mergeRun` (src/actors/crdt/RunMerge.ts). Both are bundled twice with esbuild, with and
// without `keepNames` (wrangler bundles Workers with it: every named closure Yjs makes per
// applyUpdate then costs a defineProperty). Node, so not workerd's figures, but the same V8 work.
// Checks that both ways give the same document and the same rows.
//   PATH=$PWD/node_modules/.bin:$PATH node bench/tools/yjs-run-apply.mjs [edits=20000] [run=2500]
import { build } from "esbuild"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import { loadNamedTrace } from "../workloads/yjs/traces.mjs"

const [edits = "20000", run = "2500"] = process.argv.slice(2)
const root = join(import.meta.dirname, "..", "..")
const entry = `
import * as Y from "yjs"
import { mergeRun } from ${JSON.stringify(join(root, "src/actors/crdt/RunMerge.ts"))}
import { inspectUpdate } from ${JSON.stringify(join(root, "src/actors/crdt/UpdateInspection.ts"))}
import { applyEdit } from ${JSON.stringify(join(root, "bench/workloads/yjs/trace.mjs"))}
const N = ${Number(edits)}, RUN = ${Number(run)}
const edits = globalThis.traceEdits
const source = new Y.Doc()
const updates = []
source.on("update", (update) => updates.push(update))
for (let index = 0; index < N; index++) applyEdit(source.getText("content"), edits[index])
const median = (label, fn) => {
  const times = []
  let out
  for (let round = 0; round < 7; round++) { const t0 = performance.now(); out = fn(); times.push(performance.now() - t0) }
  times.sort((a, b) => a - b)
  console.log(label.padEnd(34), ((times[3] * 1000) / N).toFixed(2), "us per update")
  return out
}
const layouts = median("inspectUpdate", () => {
  const doc = new Y.Doc(), ahead = new Map(), out = []
  for (const update of updates) {
    const inspection = inspectUpdate(doc, update, 1e9, ahead)
    for (const client of inspection.authored) ahead.set(client, inspection.ends.get(client))
    out.push(inspection)
  }
  return out
})
const applyRuns = (joined) => {
  const doc = new Y.Doc(), rows = []
  for (let start = 0; start < N; start += RUN) {
    const slice = updates.slice(start, start + RUN), layout = layouts.slice(start, start + RUN)
    const merged = joined ? mergeRun({ updates: slice, deleteSetAt: layout.map((l) => l.deleteSetAt), soleClientEnd: layout.map((l) => l.soleClientEnd) }) : undefined
    if (joined && merged === undefined) throw new Error("run not joined")
    let row
    const capture = (update) => { row = update }
    doc.on("update", capture)
    doc.transact(() => { for (const update of merged === undefined ? slice : [merged]) Y.applyUpdate(doc, update, "conn") }, "conn")
    doc.off("update", capture)
    rows.push(row)
  }
  return { doc, rows }
}
const byUpdate = median("runs applied update by update", () => applyRuns(false))
const byRun = median("runs joined (mergeRun) and applied", () => applyRuns(true))
const same = (a, b) => a.length === b.length && a.every((byte, index) => byte === b[index])
const identical = same(Y.encodeStateAsUpdate(byUpdate.doc), Y.encodeStateAsUpdate(byRun.doc)) && byUpdate.rows.every((row, index) => same(row, byRun.rows[index]))
console.log("same document and rows:", identical)
`
// Read here: inside the bundle the trace module would look for the trace next to the bundle.
globalThis.traceEdits = loadNamedTrace("automerge-paper").edits
const dir = mkdtempSync(join(tmpdir(), "yjs-run-apply-"))
try {
  for (const keepNames of [false, true]) {
    const outfile = join(dir, `bundle-${keepNames}.mjs`)
    // Resolved from the repository, as the Worker's bundle is: one copy of Yjs for the entry and src.
    await build({ stdin: { contents: entry, resolveDir: root, sourcefile: "yjs-run-apply-entry.mjs" }, bundle: true, platform: "node", format: "esm", keepNames, outfile, logLevel: "warning" })
    console.log(`-- esbuild keepNames: ${keepNames} (${edits} edits, runs of ${run})`)
    // Each bundle holds its own Yjs, loaded one after the other: not the double import Yjs warns about.
    delete globalThis["__ $YJS$ __"]
    await import(pathToFileURL(outfile).href)
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
}
