/**
 * An editing trace replayed through a CRDT room as client updates: the server's text ends equal to
 * the trace's `endContent`. The real trace of a LaTeX paper (259,778 single-character edits) when
 * `../shared/traces` is beside the repo; otherwise a generated one of 100,000 edits.
 */
import { env } from "cloudflare:test"
import { describe, expect, it } from "vitest"
import * as Y from "yjs"
import { runTest, uniqueId } from "./helpers.js"
import { crdtService, fromBase64, toBase64 } from "./crdt-helpers.js"
import { generateEditingTrace, type EditingTrace } from "./fixtures/editingTrace.js"

interface LoadedTrace {
  readonly name: string
  readonly trace: EditingTrace
  readonly edits: number
}

const loadTrace = async (): Promise<LoadedTrace> => {
  const base64 = (env as unknown as { AUTOMERGE_PAPER_TRACE_GZ_BASE64?: string }).AUTOMERGE_PAPER_TRACE_GZ_BASE64
  if (base64 === undefined) return { name: "generated", trace: generateEditingTrace(100_000), edits: 100_000 }
  const stream = new Blob([fromBase64(base64)]).stream().pipeThrough(new DecompressionStream("gzip"))
  const trace = JSON.parse(await new Response(stream).text()) as EditingTrace
  expect(trace.endContent.length).toBe(104_852)
  return { name: "automerge-paper", trace, edits: 259_778 }
}

describe("CRDT rooms: a real editing trace", () => {
  it("replays the trace through the room, batch by batch, and ends with its endContent", { timeout: 120_000 }, async () => {
    const { name, trace, edits: traceEdits } = await loadTrace()
    console.log(`crdt trace: ${name}, ${traceEdits} edits`)
    const id = uniqueId("crdt-trace")
    const room = crdtService().crdtRoom(id)
    const editor = new Y.Doc()
    const text = editor.getText("content")
    const pending: Array<Uint8Array> = []
    editor.on("update", (update: Uint8Array) => pending.push(update))
    let edits = 0
    const flush = async () => {
      if (pending.length === 0) return
      const update = Y.mergeUpdates(pending.splice(0))
      await runTest(room.applyYjsUpdate({ updateBase64: toBase64(update), clientId: editor.clientID }))
    }
    for (const txn of trace.txns) {
      for (const [position, deleted, inserted] of txn.patches) {
        if (deleted > 0) text.delete(position, deleted)
        if (inserted.length > 0) text.insert(position, inserted)
        edits++
      }
      if (pending.length >= 500) await flush()
    }
    await flush()
    expect(edits).toBe(traceEdits)
    const server = new Y.Doc()
    Y.applyUpdate(server, fromBase64((await runTest(room.syncYjs())).updateBase64))
    expect(server.getText("content").toString() === trace.endContent).toBe(true)
    expect(server.getText("content").length).toBe(trace.endContent.length)
    const stats = await runTest(room.documentStats())
    await runTest(room.compact())
    const compacted = await runTest(room.documentStats())
    expect(compacted.storedBytes).toBe(compacted.encodedBytes)
    expect(compacted.storedBytes).toBeLessThan(stats.storedBytes + 1)
  })
})
