/**
 * Joining a CRDT room over y-websocket (issue 16, "CRDT join"): a sync step 1 is answered
 * synchronously, from stored updates only, and the whole-document step 2 a joiner gets is kept
 * only while the document is unchanged.
 */
import { runInDurableObject } from "cloudflare:test"
import * as encoding from "lib0/encoding"
import { describe, expect, it } from "vitest"
import * as syncProtocol from "y-protocols/sync"
import * as Y from "yjs"
import { connectYjs, crdtGrant, crdtStub, until } from "./crdt-helpers.js"
import { uniqueId } from "./helpers.js"

/** The text of the stored update rows, read inside the object without any room operation (which would store pending updates itself). */
const storedText = (id: string) =>
  runInDurableObject(crdtStub(id), (_instance, state) => {
    const doc = new Y.Doc()
    const rows = state.storage.sql.exec<{ update_bytes: ArrayBuffer }>("SELECT update_bytes FROM yjs_updates ORDER BY seq").toArray()
    for (const row of rows) Y.applyUpdate(doc, new Uint8Array(row.update_bytes))
    return doc.getText("t").toString()
  })

/** A sync step 1 with an empty state vector: "send me the whole document". */
const emptyStep1 = () => {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, 0)
  syncProtocol.writeSyncStep1(encoder, new Y.Doc())
  return encoding.toUint8Array(encoder)
}

const textOf = (update: Uint8Array) => {
  const doc = new Y.Doc()
  Y.applyUpdate(doc, update)
  return doc.getText("t").toString()
}

describe("CRDT rooms: joining", () => {
  it("a sync step 1 behind a lone writer's pending update is answered with it, stored first", async () => {
    const id = uniqueId("crdt-join-pending")
    const writer = await connectYjs(await crdtGrant(id, "writer", ["read", "write"]))
    await writer.synced
    const answered = writer.updates.length
    // A lone writer's update waits up to 100 ms for its store; the step 1 right behind it on the
    // same socket must not be answered without it, nor with it unstored.
    writer.doc.getText("t").insert(0, "pending")
    writer.sendRaw(emptyStep1())
    await until(() => writer.updates.length > answered, "the step 2 answer")
    const stored = await storedText(id)
    expect(textOf(writer.updates[answered]!)).toBe("pending")
    expect(stored).toBe("pending")
    writer.close()
  })

  it("each joiner gets the document as it is when it joins, not an earlier whole-document answer", async () => {
    const id = uniqueId("crdt-join-fresh")
    const writer = await connectYjs(await crdtGrant(id, "writer", ["read", "write"]))
    await writer.synced
    const text = writer.doc.getText("t")
    const joinAndRead = async (actor: string) => {
      const joiner = await connectYjs(await crdtGrant(id, actor, ["read"]))
      await joiner.synced
      const seen = joiner.doc.getText("t").toString()
      joiner.close()
      return seen
    }
    text.insert(0, "one")
    await expect.poll(() => storedText(id), { timeout: 5000 }).toBe("one")
    expect(await joinAndRead("first")).toBe("one")
    expect(await joinAndRead("second")).toBe("one")
    text.insert(3, " two")
    await expect.poll(() => storedText(id), { timeout: 5000 }).toBe("one two")
    expect(await joinAndRead("third")).toBe("one two")
    writer.close()
  })
})
