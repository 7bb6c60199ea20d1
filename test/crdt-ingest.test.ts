/**
 * CRDT ingest (issue 16): y-websocket updates take a synchronous path and are stored coalesced
 * (one transaction per burst), yet nothing a viewer received is missing after a restart; the log
 * is folded relative to the base's size; a fold with nothing new writes nothing.
 */
import { abortAllDurableObjects, env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test"
import { describe, expect, it } from "vitest"
import * as Y from "yjs"
import { instanceConfig } from "../src/Config.js"
import { makeRealtime } from "../src/Realtime.js"
import { runTest, uniqueId } from "./helpers.js"
import { connectYjs, crdtGrant, crdtService, crdtStub, editUpdate, fromBase64, toBase64, until } from "./crdt-helpers.js"
import { eventually } from "./live-helpers.js"

const room = (id: string) => crdtService().crdtRoom(id)

const serverText = async (id: string) => {
  const doc = new Y.Doc()
  Y.applyUpdate(doc, fromBase64((await runTest(room(id).syncYjs())).updateBase64))
  return doc.getText("t").toString()
}

/** The text of the stored update rows, read inside the object without going through the room's operations. */
const storedText = (id: string) =>
  runInDurableObject(crdtStub(id), (_instance, state) => {
    const doc = new Y.Doc()
    const rows = state.storage.sql.exec<{ update_bytes: ArrayBuffer }>("SELECT update_bytes FROM yjs_updates ORDER BY seq").toArray()
    for (const row of rows) Y.applyUpdate(doc, new Uint8Array(row.update_bytes))
    return doc.getText("t").toString()
  })

describe("CRDT rooms: ingest", () => {
  it("a burst of 80 socket updates (within the rate burst of 100) is stored in far fewer rows, and all a viewer received survives a restart", async () => {
    const id = uniqueId("crdt-burst")
    const writer = await connectYjs(await crdtGrant(id, "writer", ["read", "write"]))
    const viewer = await connectYjs(await crdtGrant(id, "viewer", ["read"]))
    await Promise.all([writer.synced, viewer.synced])
    const text = writer.doc.getText("t")
    for (let i = 0; i < 80; i++) text.insert(text.length, `${i % 10}`) // one update frame each
    await until(() => viewer.doc.getText("t").toString() === text.toString(), "the viewer has every edit", 10_000)
    // Nothing is forwarded before it is stored: what the viewer has is on disk.
    await abortAllDurableObjects()
    expect(await serverText(id)).toBe(text.toString())
    const stats = await runTest(room(id).documentStats())
    expect(stats.lastSeq).toBeGreaterThan(0)
    expect(stats.lastSeq).toBeLessThanOrEqual(40)
    writer.close()
    viewer.close()
  })

  it("a lone writer's burst is stored in a few commits (nobody to forward to), and a joiner only ever sees stored updates", async () => {
    const id = uniqueId("crdt-lone")
    const writer = await connectYjs(await crdtGrant(id, "writer", ["read", "write"]))
    await writer.synced
    const text = writer.doc.getText("t")
    for (let i = 0; i < 40; i++) text.insert(text.length, `${i % 10}`) // one update frame each
    // Stored by the lone writer's timer (100 ms), not by a reader: read the rows straight from SQLite (every operation
    // and every join stores pending updates first, so asking the room would store them itself) until all 40 are there.
    await eventually(async () => ((await storedText(id)) === text.toString() ? true : undefined), 10_000, "the timer stored every edit")
    const joiner = await connectYjs(await crdtGrant(id, "joiner", ["read"]))
    await joiner.synced
    const seen = joiner.doc.getText("t").toString()
    const stats = await runTest(room(id).documentStats())
    await abortAllDurableObjects()
    expect(seen).toBe(text.toString())
    // Everything the joiner was served had been stored.
    expect((await serverText(id)).startsWith(seen)).toBe(true)
    expect(stats.lastSeq).toBeGreaterThan(0)
    expect(stats.lastSeq).toBeLessThanOrEqual(10)
    writer.close()
    joiner.close()
  })

  it("a burst of several MiB from one connection is coalesced only into rows of at most one chunk (1 MiB), never one row past SQLite's value limit", async () => {
    const id = uniqueId("crdt-bulk")
    const bulk = makeRealtime(instanceConfig("crdtbulk"), env as unknown as Record<string, unknown>).crdtRoom(id)
    const grant = (actorId: string, permissions: ReadonlyArray<"read" | "write">) => runTest(bulk.authorize({ actor: { type: "user", id: actorId }, permissions }))
    const writer = await connectYjs(await grant("writer", ["read", "write"]))
    const viewer = await connectYjs(await grant("viewer", ["read"]))
    await Promise.all([writer.synced, viewer.synced])
    const text = writer.doc.getText("t")
    // Five ~600 KB updates sent back to back (3 MB, more than one SQLite value may hold); no two fit one chunk.
    for (let i = 0; i < 5; i++) text.insert(text.length, String(i).repeat(600_000))
    await until(() => viewer.doc.getText("t").length === text.length, "the viewer has every edit", 20_000)
    await abortAllDurableObjects()
    const server = new Y.Doc()
    Y.applyUpdate(server, fromBase64((await runTest(bulk.syncYjs())).updateBase64))
    expect(server.getText("t").toString() === text.toString()).toBe(true)
    const stats = await runTest(bulk.documentStats())
    // One row per update: a run grows only while its parts fit one chunk.
    expect(stats.lastSeq).toBe(5)
    writer.close()
    viewer.close()
  })

  it("compact() with nothing logged since the last fold writes nothing", async () => {
    const id = uniqueId("crdt-empty-fold")
    const writer = new Y.Doc()
    for (let i = 0; i < 3; i++) {
      await runTest(room(id).applyYjsUpdate({ updateBase64: toBase64(editUpdate(writer, (d) => d.getText("t").insert(0, `line ${i}\n`))) }))
    }
    const first = await runTest(room(id).compact())
    expect(first.foldedUpdates).toBe(3)
    const before = await runTest(room(id).documentStats())
    const second = await runTest(room(id).compact())
    const after = await runTest(room(id).documentStats())
    expect(second).toMatchObject({ foldedUpdates: 0, compactedThrough: first.compactedThrough, bytesAfter: before.storedBytes })
    expect(after.writtenBytes).toBe(before.writtenBytes)
  })

  it("folds the log once it has brought 1.5x the base's bytes, not after a fixed count", async () => {
    const id = uniqueId("crdt-relative-fold")
    const writer = new Y.Doc()
    const apply = (edit: (doc: Y.Doc) => void) => runTest(room(id).applyYjsUpdate({ updateBase64: toBase64(editUpdate(writer, edit)) }))
    await apply((d) => d.getText("t").insert(0, "x".repeat(20_000)))
    await runTest(room(id).compact())
    const base = (await runTest(room(id).documentStats())).storedBytes
    // 25 one-character edits (over the test instance's compactAfterUpdates of 20): far below 1.5x the base.
    for (let i = 0; i < 25; i++) await apply((d) => d.getText("t").insert(i, "y"))
    await runDurableObjectAlarm(crdtStub(id))
    const small = await runTest(room(id).documentStats())
    expect(small).toMatchObject({ compactedThrough: 1, logUpdates: 25 })
    // One update bigger than 1.5x the base: now it folds.
    await apply((d) => d.getText("t").insert(0, "z".repeat(Math.ceil(base * 1.5))))
    await runDurableObjectAlarm(crdtStub(id))
    const folded = await runTest(room(id).documentStats())
    expect(folded).toMatchObject({ compactedThrough: 27, logUpdates: 0 })
    expect(await serverText(id)).toBe(writer.getText("t").toString())
  })
})
