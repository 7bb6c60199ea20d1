/**
 * The real editing trace of a LaTeX paper (259,778 single-character edits) replayed through a
 * CRDT room as client updates: the server's text ends equal to the trace's `endContent`.
 */
import { env } from "cloudflare:test"
import { describe, expect, it } from "vitest"
import * as Y from "yjs"
import { runTest, uniqueId } from "./helpers.js"
import { crdtService, fromBase64, toBase64 } from "./crdt-helpers.js"

interface Trace {
  readonly endContent: string
  readonly txns: ReadonlyArray<{ readonly patches: ReadonlyArray<readonly [number, number, string]> }>
}

const loadTrace = async (): Promise<Trace> => {
  const base64 = (env as unknown as { AUTOMERGE_PAPER_TRACE_GZ_BASE64?: string }).AUTOMERGE_PAPER_TRACE_GZ_BASE64
  if (base64 === undefined) throw new Error("test/fixtures/automerge-paper.json.gz is missing (see test/fixtures/README.md)")
  const stream = new Blob([fromBase64(base64)]).stream().pipeThrough(new DecompressionStream("gzip"))
  return JSON.parse(await new Response(stream).text()) as Trace
}

describe("CRDT rooms: a real editing trace", () => {
  it("replays automerge-paper through the room, batch by batch, and ends with its endContent", { timeout: 120_000 }, async () => {
    const trace = await loadTrace()
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
    expect(edits).toBe(259_778)
    const server = new Y.Doc()
    Y.applyUpdate(server, fromBase64((await runTest(room.syncYjs())).updateBase64))
    expect(server.getText("content").toString() === trace.endContent).toBe(true)
    expect(server.getText("content").length).toBe(104_852)
    const stats = await runTest(room.documentStats())
    await runTest(room.compact())
    const compacted = await runTest(room.documentStats())
    expect(compacted.storedBytes).toBe(compacted.encodedBytes)
    expect(compacted.storedBytes).toBeLessThan(stats.storedBytes + 1)
  })
})
