// Named editing traces from ../shared/traces (format in its README): every patch of every
// transaction, in order, as `[position, deleted, inserted]`, and the text they produce.
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { gunzipSync } from "node:zlib"

const TRACES = join(import.meta.dirname, "..", "..", "..", "..", "shared", "traces")

const cache = new Map()
export const loadNamedTrace = (name) => {
  if (!cache.has(name)) {
    const trace = JSON.parse(gunzipSync(readFileSync(join(TRACES, `${name}.json.gz`))).toString("utf8"))
    cache.set(name, { startContent: trace.startContent, endContent: trace.endContent, edits: trace.txns.flatMap((txn) => txn.patches) })
  }
  return cache.get(name)
}
