/**
 * S5 (clocks): a Yjs clock past 2^53 - 1 (where numbers lose precision) or a clock jump past
 * `yjs.maxClockJump` in one update is refused, over HTTP and sockets, with the document unchanged.
 * A long deleted run made the ordinary way (type, then delete) is still accepted.
 */
import { describe, expect, it } from "vitest"
import * as encoding from "lib0/encoding"
import * as Y from "yjs"
import { updateFrame } from "../src/actors/crdt/YjsProtocol.js"
import { failureOf, runExit, runTest, uniqueId } from "./helpers.js"
import { connectYjs, crdtService, editUpdate, fromBase64, toBase64 } from "./crdt-helpers.js"

const room = (id: string) => crdtService().crdtRoom(id)

const fingerprint = async (id: string) => {
  const stats = await runTest(room(id).documentStats())
  const sync = await runTest(room(id).syncYjs())
  return { lastSeq: stats.lastSeq, storedBytes: stats.storedBytes, state: sync.updateBase64 }
}

/**
 * A v1 update holding one garbage-collected run of `length` clocks for `client` from `clock`
 * (a few bytes for any length), and an empty delete set.
 */
const gcRun = (client: number, clock: number, length: number): Uint8Array => {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, 1) // clients
  encoding.writeVarUint(encoder, 1) // structs of this client
  encoding.writeVarUint(encoder, client)
  encoding.writeVarUint(encoder, clock)
  encoding.writeUint8(encoder, 0) // GC
  encoding.writeVarUint(encoder, length)
  encoding.writeVarUint(encoder, 0) // delete set: no clients
  return encoding.toUint8Array(encoder)
}

describe("S5 Yjs clocks: precision and jumps", () => {
  it("refuses clocks past 2^53 - 1 and jumps past maxClockJump (HTTP: InvalidInput; socket: 1008), document unchanged", async () => {
    const id = uniqueId("s5-clocks")
    const writer = new Y.Doc()
    await runTest(room(id).applyYjsUpdate({ updateBase64: toBase64(editUpdate(writer, (doc) => doc.getText("t").insert(0, "base"))) }))
    const unchanged = await fingerprint(id)
    const writerClock = Y.getState(writer.store, writer.clientID)
    const cases: Array<[string, Uint8Array, string]> = [
      ["run ending past 2^53", gcRun(424242, 0, 2 ** 54), "2^53"],
      ["run from the writer's clock past 2^53", gcRun(writer.clientID, writerClock, Number.MAX_SAFE_INTEGER), "2^53"],
      ["jump of 2^30 clocks", gcRun(515151, 0, 2 ** 30), "jumps"],
      ["jump just over 2^24", gcRun(616161, 0, 2 ** 24 + 1), "jumps"],
    ]
    for (const [what, update, says] of cases) {
      const error = failureOf(await runExit(room(id).applyYjsUpdate({ updateBase64: toBase64(update) })))
      expect(error._tag, what).toBe("InvalidInput")
      expect(error.message, what).toContain(says)
      expect(await fingerprint(id), what).toEqual(unchanged)

      const client = await connectYjs(await runTest(room(id).authorize({ actor: { type: "user", id: "mallory" }, ttlSeconds: 60 })))
      await client.synced
      client.sendRaw(updateFrame(update))
      const closed = await client.closed
      expect(closed.code, what).toBe(1008)
      expect(await fingerprint(id), what).toEqual(unchanged)
    }
    // A run of exactly maxClockJump (2^24) is within bounds.
    await runTest(room(id).applyYjsUpdate({ updateBase64: toBase64(gcRun(717171, 0, 2 ** 24)) }))
    expect((await fingerprint(id)).lastSeq).toBe(unchanged.lastSeq + 1)
  })

  it("accepts a long deleted run made the ordinary way (10,000 characters typed and deleted in one transaction)", async () => {
    const id = uniqueId("s5-deleted-run")
    const writer = new Y.Doc()
    const update = editUpdate(writer, (doc) =>
      doc.transact(() => {
        doc.getText("t").insert(0, "x".repeat(10_000))
        doc.getText("t").delete(0, 10_000)
        doc.getText("t").insert(0, "kept")
      }),
    )
    // The deleted run is garbage-collected in the update: far fewer bytes than clocks.
    expect(update.byteLength).toBeLessThan(100)
    await runTest(room(id).applyYjsUpdate({ updateBase64: toBase64(update) }))
    const doc = new Y.Doc()
    Y.applyUpdate(doc, fromBase64((await runTest(room(id).syncYjs())).updateBase64))
    expect(doc.getText("t").toString()).toBe("kept")
    expect(Y.getState(doc.store, writer.clientID)).toBe(10_004)
  })
})
