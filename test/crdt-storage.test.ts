/**
 * CRDT room storage: compaction (manual and scheduled), the update stream across compaction,
 * documents over SQLite's 2 MB value limit, durability across restarts, snapshots and restore
 * (plain rooms and documents), destroy.
 */
import { abortAllDurableObjects, runDurableObjectAlarm } from "cloudflare:test"
import { describe, expect, it } from "vitest"
import * as Y from "yjs"
import { failureOf, runExit, runTest, service, uniqueId } from "./helpers.js"
import { connectYjs, crdtGrant, crdtService, crdtStub, editUpdate, fromBase64, toBase64, until } from "./crdt-helpers.js"

const room = (id: string) => crdtService().crdtRoom(id)

const serverText = async (id: string, name = "t") => {
  const doc = new Y.Doc()
  Y.applyUpdate(doc, fromBase64((await runTest(room(id).syncYjs())).updateBase64))
  return doc.getText(name).toString()
}

const typeInto = async (id: string, doc: Y.Doc, count: number, text = (i: number) => `line ${i}\n`) => {
  for (let i = 0; i < count; i++) {
    const update = editUpdate(doc, (d) => d.getText("t").insert(d.getText("t").length, text(i)))
    await runTest(room(id).applyYjsUpdate({ updateBase64: toBase64(update), clientId: "writer" }))
  }
}

describe("CRDT rooms: storage", () => {
  it("compaction keeps the content identical, shrinks storage towards encodeStateAsUpdate, and the stream says where it continues", async () => {
    const id = uniqueId("crdt-compact")
    const writer = new Y.Doc()
    await typeInto(id, writer, 15)
    // Deletions make the log carry content that no longer exists.
    for (let i = 0; i < 4; i++) {
      const update = editUpdate(writer, (d) => d.getText("t").delete(0, 7))
      await runTest(room(id).applyYjsUpdate({ updateBase64: toBase64(update) }))
    }
    const before = await runTest(room(id).documentStats())
    const result = await runTest(room(id).compact())
    expect(result).toMatchObject({ compactedThrough: 19, foldedUpdates: 19, bytesBefore: before.storedBytes })
    const after = await runTest(room(id).documentStats())
    expect(after.storedBytes).toBeLessThan(before.storedBytes)
    expect(after.storedBytes).toBe(after.encodedBytes)
    expect(await serverText(id)).toBe(writer.getText("t").toString())

    await typeInto(id, writer, 1, () => "after compaction")
    const stream = await runTest(room(id).stream({ cursor: 0 }))
    expect(stream).toMatchObject({ compactedThrough: 19, truncated: true, lastSeq: 20 })
    expect(stream.entries.map((entry) => entry.seq)).toEqual([20])
    // Replay = syncYjs of the base + entries after compactedThrough: the same document.
    await abortAllDurableObjects()
    expect(await serverText(id)).toBe(writer.getText("t").toString())
  })

  it("compacts automatically on the alarm once the log passes compactAfterUpdates", async () => {
    const id = uniqueId("crdt-autocompact")
    const writer = new Y.Doc()
    await typeInto(id, writer, 22)
    await runDurableObjectAlarm(crdtStub(id))
    const stats = await runTest(room(id).documentStats())
    expect(stats.compactedThrough).toBeGreaterThanOrEqual(20)
    expect(stats.logUpdates).toBeLessThan(3)
    expect(await serverText(id)).toBe(writer.getText("t").toString())
  })

  it("stores a document over SQLite's 2 MB value limit in chunks, and it survives a restart", async () => {
    const id = uniqueId("crdt-big")
    const writer = new Y.Doc()
    const chunk = (seed: number) => Array.from({ length: 900_000 }, (_, i) => String.fromCharCode(97 + ((i * 7 + seed) % 26))).join("")
    for (let part = 0; part < 3; part++) {
      const update = editUpdate(writer, (d) => d.getText("t").insert(d.getText("t").length, chunk(part)))
      await runTest(room(id).applyYjsUpdate({ updateBase64: toBase64(update) }))
    }
    const compacted = await runTest(room(id).compact())
    expect(compacted.bytesAfter).toBeGreaterThan(2_700_000)
    await abortAllDurableObjects()
    const text = await serverText(id)
    expect(text.length).toBe(2_700_000)
    expect(text === writer.getText("t").toString()).toBe(true)
  })

  it("acknowledged updates survive restarts of the Durable Object", async () => {
    const id = uniqueId("crdt-durable")
    const writer = new Y.Doc()
    for (let round = 0; round < 5; round++) {
      await typeInto(id, writer, 4, (i) => `r${round}-${i} `)
      await abortAllDurableObjects()
    }
    expect(await serverText(id)).toBe(writer.getText("t").toString())
    expect((await runTest(room(id).documentStats())).lastSeq).toBe(20)
  })

  it("restore produces a forward update: connected clients converge on the snapshot without reloading", async () => {
    const id = uniqueId("crdt-restore")
    const alice = await connectYjs(await crdtGrant(id, "alice"))
    const bob = await connectYjs(await crdtGrant(id, "bob"))
    await Promise.all([alice.synced, bob.synced])
    alice.doc.getText("t").insert(0, "hello")
    alice.doc.getMap("m").set("k", 1)
    await until(() => bob.doc.getText("t").toString() === "hello", "bob has hello")
    await until(() => true, "settle")
    const snapshot = await runTest(room(id).snapshot({ label: "v1" }))
    expect(snapshot.documentBytes).toBeGreaterThan(0)

    bob.doc.getText("t").insert(5, " world")
    alice.doc.getMap("m").set("k", 2)
    alice.doc.getMap("m").set("extra", true)
    alice.doc.getArray("a").push(["x"])
    await until(() => alice.doc.getText("t").toString() === "hello world" && bob.doc.getMap("m").get("k") === 2, "edits spread")

    const restored = await runTest(room(id).restore({ snapshotId: snapshot.id }))
    expect(restored.snapshot.label).toBe("v1")
    const atSnapshot = (doc: Y.Doc) =>
      doc.getText("t").toString() === "hello" && doc.getMap("m").get("k") === 1 && !doc.getMap("m").has("extra") && doc.getArray("a").length === 0
    await until(() => atSnapshot(alice.doc) && atSnapshot(bob.doc), "both clients back at the snapshot")
    // Still one document: new edits after the restore merge normally.
    alice.doc.getText("t").insert(0, ">")
    await until(() => bob.doc.getText("t").toString() === ">hello", "editing continues")
    expect(await serverText(id)).toBe(">hello")
    alice.close()
    bob.close()
  })

  it("plain rooms: a snapshot keeps history position and metadata; restore goes back and starts a new epoch", async () => {
    const plain = service("test").room(uniqueId("room-snap"))
    await runTest(plain.metadata({ metadata: { title: "before" } }))
    for (const n of [1, 2, 3]) await runTest(plain.publish({ type: "m", data: { n } }))
    const snapshot = await runTest(plain.snapshot({ label: "three" }))
    expect(snapshot).toMatchObject({ seq: 3, label: "three", documentBytes: 0 })
    for (const n of [4, 5]) await runTest(plain.publish({ type: "m", data: { n } }))
    await runTest(plain.metadata({ metadata: { title: "after" } }))
    const epochBefore = (await runTest(plain.state())).epoch

    const restored = await runTest(plain.restore({ snapshotId: snapshot.id }))
    expect(restored.removedMessages).toBe(2)
    expect(restored.epoch).not.toBe(epochBefore)
    const history = await runTest(plain.history({ direction: "forward" }))
    expect(history.messages.map((m) => m.data)).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }])
    expect((await runTest(plain.metadata())).metadata).toEqual({ title: "before" })
    const next = await runTest(plain.publish({ type: "m", data: { n: 6 } }))
    expect(next.message).toMatchObject({ seq: 4, epoch: restored.epoch })

    expect((await runTest(plain.snapshots())).snapshots.map((s) => s.id)).toEqual([snapshot.id])
    const missing = failureOf(await runExit(plain.restore({ snapshotId: "nope" })))
    expect(missing._tag).toBe("NotFound")
    expect(failureOf(await runExit(plain.restore({ snapshotId: "" })))._tag).toBe("InvalidInput")
  })

  it("destroy closes y-websocket clients with 4004, refuses later updates and connections, and deletes what was asked", async () => {
    const id = uniqueId("crdt-destroy")
    const writer = new Y.Doc()
    await typeInto(id, writer, 2)
    await runTest(room(id).snapshot({ label: "s" }))
    const client = await connectYjs(await crdtGrant(id, "alice"))
    await client.synced
    const result = await runTest(room(id).destroy({ deleteHistory: true, deleteSnapshots: true }))
    expect(result).toMatchObject({ status: "destroyed", deletedSnapshots: 1 })
    expect((await client.closed).code).toBe(4004)
    const refused = failureOf(await runExit(room(id).applyYjsUpdate({ updateBase64: toBase64(editUpdate(writer, (d) => d.getText("t").insert(0, "x"))) })))
    expect(refused._tag).toBe("RoomDestroyed")
    expect((await runTest(room(id).snapshots())).snapshots).toEqual([])
    expect(await serverText(id)).toBe("")
    const late = await connectYjs(await crdtGrant(id, "late"))
    expect((await late.closed).code).toBe(4004)
  })
})
