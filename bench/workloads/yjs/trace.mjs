// The automerge-paper editing trace (259,778 single-character edits of a LaTeX paper), loaded
// once per process: `edits[i] = [position, deleted, inserted]`.
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { gunzipSync } from "node:zlib"
import * as Y from "yjs"

const TRACE_PATH = join(import.meta.dirname, "..", "..", "..", "..", "shared", "traces", "automerge-paper.json.gz")

let loaded
export const loadTrace = () => {
  if (loaded === undefined) {
    const trace = JSON.parse(gunzipSync(readFileSync(TRACE_PATH)).toString("utf8"))
    loaded = { endContent: trace.endContent, edits: trace.txns.flatMap((txn) => txn.patches) }
  }
  return loaded
}

/** Apply one trace edit to a Y.Text, positions clamped to its length; returns whether it had to clamp. */
export const applyEdit = (text, [position, deleted, inserted]) => {
  const at = Math.min(position, text.length)
  const removable = Math.min(deleted, text.length - at)
  if (removable > 0) text.delete(at, removable)
  if (inserted.length > 0) text.insert(at, inserted)
  return at !== position || removable !== deleted
}

/** The document after the first `count` edits, replayed locally (one client, no network). */
export const replayLocally = (count, name = "content") => {
  const { edits } = loadTrace()
  const doc = new Y.Doc()
  const text = doc.getText(name)
  for (let index = 0; index < Math.min(count, edits.length); index++) applyEdit(text, edits[index])
  return doc
}
