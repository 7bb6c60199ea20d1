/**
 * CRDT rooms refuse bad input with a typed error (HTTP) or a close code (socket), and the stored
 * document does not change.
 */
import { SELF } from "cloudflare:test"
import { describe, expect, it } from "vitest"
import * as Y from "yjs"
import { failureOf, runExit, runTest, uniqueId } from "./helpers.js"
import { connectYjs, crdtGrant, crdtService, editUpdate, fromBase64, toBase64, until } from "./crdt-helpers.js"

const room = (id: string) => crdtService().crdtRoom(id)

/** A room holding "base" from one writer, and a fingerprint of its stored state. */
const seeded = async () => {
  const id = uniqueId("crdt-bad")
  const writer = new Y.Doc()
  await runTest(room(id).applyYjsUpdate({ updateBase64: toBase64(editUpdate(writer, (d) => d.getText("t").insert(0, "base"))) }))
  const fingerprint = async () => {
    const stats = await runTest(room(id).documentStats())
    const sync = await runTest(room(id).syncYjs())
    return { lastSeq: stats.lastSeq, storedBytes: stats.storedBytes, state: sync.updateBase64 }
  }
  return { id, writer, fingerprint, unchanged: await fingerprint() }
}

describe("CRDT rooms: bad input", () => {
  it("refuses invalid base64, corrupt, truncated, dependent and oversized updates, storing nothing", async () => {
    const { id, writer, fingerprint, unchanged } = await seeded()
    const valid = editUpdate(writer, (d) => d.getText("t").insert(4, "!"))
    const later = editUpdate(writer, (d) => d.getText("t").insert(5, "?"))
    const cases: Array<[string, string, string]> = [
      ["invalid base64", "not base64 at all!", "InvalidInput"],
      ["base64 without padding", "AAE", "InvalidInput"],
      ["corrupt bytes", toBase64(new Uint8Array([255, 255, 255, 255, 1, 2, 3])), "InvalidInput"],
      ["truncated update", toBase64(valid.subarray(0, valid.byteLength - 3)), "InvalidInput"],
      ["missing dependencies", toBase64(later), "InvalidInput"],
      ["oversized", toBase64(new Uint8Array(1024 * 1024 + 1)), "PayloadTooLarge"],
    ]
    for (const [what, updateBase64, tag] of cases) {
      const error = failureOf(await runExit(room(id).applyYjsUpdate({ updateBase64 })))
      expect(error._tag, what).toBe(tag)
      expect(await fingerprint(), what).toEqual(unchanged)
    }
    expect(failureOf(await runExit(room(id).syncYjs({ stateVectorBase64: "%%%" })))._tag).toBe("InvalidInput")
    expect(failureOf(await runExit(room(id).awareness({ clientId: -1, state: {} })))._tag).toBe("InvalidInput")
    expect(failureOf(await runExit(room(id).stream({ limit: 0 })))._tag).toBe("InvalidInput")
    // The valid update still applies after all that, then the dependent one.
    await runTest(room(id).applyYjsUpdate({ updateBase64: toBase64(valid) }))
    await runTest(room(id).applyYjsUpdate({ updateBase64: toBase64(later) }))
    const doc = new Y.Doc()
    Y.applyUpdate(doc, fromBase64((await runTest(room(id).syncYjs())).updateBase64))
    expect(doc.getText("t").toString()).toBe("base!?")
  })

  it("closes sockets that send text, malformed frames, corrupt updates or oversized frames, with nothing stored", async () => {
    const { id, writer, fingerprint, unchanged } = await seeded()
    const dependent = (() => {
      const copy = new Y.Doc()
      Y.applyUpdate(copy, Y.encodeStateAsUpdate(writer))
      editUpdate(copy, (d) => d.getText("t").insert(0, "a"))
      return editUpdate(copy, (d) => d.getText("t").insert(0, "b"))
    })()
    const frames: Array<[string, Uint8Array | string, number]> = [
      ["text frame", "hello", 1003],
      ["unknown message type", new Uint8Array([9, 1, 2]), 1008],
      ["truncated sync message", new Uint8Array([0, 2, 50, 1]), 1008],
      ["corrupt update", new Uint8Array([0, 2, 4, 255, 255, 255, 255]), 1008],
      ["update with missing dependencies", (() => {
        const bytes = new Uint8Array(dependent.byteLength + 3)
        bytes.set([0, 2], 0)
        // varUint length then payload, as lib0 writes it (length < 128 here)
        bytes[2] = dependent.byteLength
        bytes.set(dependent, 3)
        return bytes.subarray(0, 3 + dependent.byteLength)
      })(), 1008],
      ["oversized frame", new Uint8Array(1024 * 1024 + 200), 1009],
      ["malformed awareness", new Uint8Array([1, 3, 1, 1, 1]), 1008],
    ]
    for (const [what, frame, code] of frames) {
      const client = await connectYjs(await crdtGrant(id, "mallory"))
      await client.synced
      client.sendRaw(frame)
      expect((await client.closed).code, what).toBe(code)
      expect(await fingerprint(), what).toEqual(unchanged)
    }
    // The room still serves an honest client.
    const honest = await connectYjs(await crdtGrant(id, "honest"))
    await honest.synced
    await until(() => honest.doc.getText("t").toString() === "base", "honest client synced")
    honest.close()
  })

  it("refuses the y-websocket route for rooms and channels, and non-upgrade requests", async () => {
    const id = uniqueId("crdt-route")
    const grant = await crdtGrant(id, "alice")
    const wrongKind = await SELF.fetch(`http://example.com/realtime/crdttest/rooms/${id}/yjs`, {
      headers: { Upgrade: "websocket", "Sec-WebSocket-Protocol": grant.yjs.protocols.join(", ") },
    })
    // Not one of the library's routes (it answers only {rooms|channels|crdt}/{id}): the app's 404.
    expect(wrongKind.status).toBe(404)
    const notUpgrade = await SELF.fetch(`http://example.com${grant.yjs.url}`, { headers: { "Sec-WebSocket-Protocol": grant.yjs.protocols.join(", ") } })
    expect(notUpgrade.status).toBe(400)
  })
})
