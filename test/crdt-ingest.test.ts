/**
 * CRDT ingest (issue 16): y-websocket updates take a synchronous path and are stored coalesced
 * (one transaction per burst), yet nothing a viewer received is missing after a restart; the log
 * is folded relative to the base's size; a fold with nothing new writes nothing.
 */
import { abortAllDurableObjects, env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test"
import { describe, expect, it } from "vitest"
import * as Y from "yjs"
import { MAX_PENDING_BYTES } from "../src/actors/crdt/CrdtRoom.js"
import { syncStep1Frame } from "../src/actors/crdt/YjsProtocol.js"
import { instanceConfig } from "../src/Config.js"
import { makeRealtime } from "../src/Realtime.js"
import { runTest, uniqueId } from "./helpers.js"
import { connectYjs, crdtService, crdtStub, editUpdate, fromBase64, toBase64, until, type YjsClient } from "./crdt-helpers.js"
import { eventually } from "./live-helpers.js"

const room = (id: string) => crdtService().crdtRoom(id)

/** The `crdtstore` instance (test/worker.ts): store intervals of a minute, so only what a test sends makes a store. */
const STORE_INSTANCE = "crdtstore"
const storeRoom = (id: string) => makeRealtime(instanceConfig(STORE_INSTANCE), env as unknown as Record<string, unknown>).crdtRoom(id)
const storeGrant = (id: string, actorId: string, permissions: ReadonlyArray<"read" | "write">) =>
  runTest(storeRoom(id).authorize({ actor: { type: "user", id: actorId }, permissions }))

/**
 * A frame that is not an update (the provider's sync step 1): the room stores whatever is pending
 * before it answers, and one socket's frames are handled in order, so every update the client sent
 * before it is stored by then, however slowly a loaded host works through them.
 */
const storePendingVia = (client: YjsClient) => client.sendRaw(syncStep1Frame(Y.encodeStateVector(client.doc)))

const serverText = async (id: string, crdtRoom = room(id)) => {
  const doc = new Y.Doc()
  Y.applyUpdate(doc, fromBase64((await runTest(crdtRoom.syncYjs())).updateBase64))
  return doc.getText("t").toString()
}

/** The document of the stored update rows, read inside the object without going through the room's operations. */
const storedDoc = (id: string, instance?: string) =>
  runInDurableObject(crdtStub(id, instance), (_instance, state) => {
    const doc = new Y.Doc()
    const rows = state.storage.sql.exec<{ update_bytes: ArrayBuffer }>("SELECT update_bytes FROM yjs_updates ORDER BY seq").toArray()
    for (const row of rows) Y.applyUpdate(doc, new Uint8Array(row.update_bytes))
    return doc
  })
const storedText = async (id: string, instance?: string) => (await storedDoc(id, instance)).getText("t").toString()

describe("CRDT rooms: ingest", () => {
  it("a burst of 80 socket updates (within the rate burst of 100) is stored in far fewer rows, and all a viewer received survives a restart", async () => {
    // Coalescing, without the 8 ms clock: in `crdtstore` the burst is stored when the writer's next frame makes it (see
    // `storePendingVia`), or by a job run or the room's bookkeeping (at most once a second) while it is under way: a
    // loaded host may add a row per second it spends on the burst, no longer one per 8 ms.
    const id = uniqueId("crdt-burst")
    const writer = await connectYjs(await storeGrant(id, "writer", ["read", "write"]))
    const viewer = await connectYjs(await storeGrant(id, "viewer", ["read"]))
    await Promise.all([writer.synced, viewer.synced])
    const text = writer.doc.getText("t")
    for (let i = 0; i < 80; i++) text.insert(text.length, `${i % 10}`) // one update frame each
    storePendingVia(writer)
    await until(() => viewer.doc.getText("t").toString() === text.toString(), "the viewer has every edit", 10_000)
    // Nothing is forwarded before it is stored: what the viewer has is on disk.
    await abortAllDurableObjects()
    expect(await serverText(id, storeRoom(id))).toBe(text.toString())
    const stats = await runTest(storeRoom(id).documentStats())
    expect(stats.lastSeq).toBeGreaterThan(0)
    expect(stats.lastSeq).toBeLessThanOrEqual(40)
    writer.close()
    viewer.close()
  })

  it("a lone writer's updates are stored by its timer (100 ms) with nobody reading", async () => {
    // `crdtbulk`: the default store intervals and compaction (crdttest folds after 20 rows, which would empty the rows
    // read here if a loaded host stored the burst in that many).
    const id = uniqueId("crdt-lone-timer")
    const bulk = makeRealtime(instanceConfig("crdtbulk"), env as unknown as Record<string, unknown>).crdtRoom(id)
    const writer = await connectYjs(await runTest(bulk.authorize({ actor: { type: "user", id: "writer" }, permissions: ["read", "write"] })))
    await writer.synced
    const text = writer.doc.getText("t")
    for (let i = 0; i < 40; i++) text.insert(text.length, `${i % 10}`) // one update frame each
    // Read the rows straight from SQLite (every operation and every join stores pending updates first, so asking the
    // room would store them itself) until all 40 are there: only the timer can have stored the tail of the burst.
    await eventually(async () => ((await storedText(id, "crdtbulk")) === text.toString() ? true : undefined), 10_000, "the timer stored every edit")
    writer.close()
  })

  it("a lone writer's burst is stored in a few commits (nobody to forward to), and a joiner only ever sees stored updates", async () => {
    // As the burst above: in `crdtstore` the writer's next frame stores it (or a job, or the once-a-second bookkeeping),
    // not a 100 ms timer racing the host's load.
    const id = uniqueId("crdt-lone")
    const writer = await connectYjs(await storeGrant(id, "writer", ["read", "write"]))
    await writer.synced
    const text = writer.doc.getText("t")
    for (let i = 0; i < 40; i++) text.insert(text.length, `${i % 10}`) // one update frame each
    storePendingVia(writer)
    await eventually(async () => ((await storedText(id, STORE_INSTANCE)) === text.toString() ? true : undefined), 10_000, "every edit stored")
    const joiner = await connectYjs(await storeGrant(id, "joiner", ["read"]))
    await joiner.synced
    const seen = joiner.doc.getText("t").toString()
    const stats = await runTest(storeRoom(id).documentStats())
    await abortAllDurableObjects()
    expect(seen).toBe(text.toString())
    // Everything the joiner was served had been stored.
    expect((await serverText(id, storeRoom(id))).startsWith(seen)).toBe(true)
    expect(stats.lastSeq).toBeGreaterThan(0)
    expect(stats.lastSeq).toBeLessThanOrEqual(10)
    writer.close()
    joiner.close()
  })

  it("pending updates that reach MAX_PENDING_BYTES together are stored at once, long before the store interval", async () => {
    // `crdtstore`'s store interval is a minute and nothing here asks for a store, so only the byte bound stores these
    // in time. Five updates of 0.6 MiB from one connection: whenever two are pending (1.2 MiB) they are stored, so
    // at most the last one may still wait once all five are in, whatever stored the first ones.
    const id = uniqueId("crdt-pending-bytes")
    const writer = await connectYjs(await storeGrant(id, "writer", ["read", "write"]))
    const viewer = await connectYjs(await storeGrant(id, "viewer", ["read"]))
    await Promise.all([writer.synced, viewer.synced])
    // Jobs store what is pending before they run: wait until none is due soon (the connections' directory report
    // is), so that nothing but the updates' own path stores them (checked: without the byte bound this test fails).
    await eventually(
      async () => {
        const alarm = await runInDurableObject(crdtStub(id, STORE_INSTANCE), (_instance, state) => state.storage.getAlarm())
        return alarm === null || alarm > Date.now() + 20_000 ? true : undefined
      },
      10_000,
      "no job due soon",
    )
    let writerClosed: { code: number; reason: string } | undefined
    void writer.closed.then((closed) => (writerClosed = closed))
    const text = writer.doc.getText("t")
    const size = Math.ceil(MAX_PENDING_BYTES * 0.6)
    for (let i = 0; i < 5; i++) text.insert(text.length, String(i).repeat(size))
    // Each 0.6 MiB update is a row of its own (two do not fit one row's run): count rows, a cheap read while polling.
    const rows = () =>
      runInDurableObject(crdtStub(id, STORE_INSTANCE), (_instance, state) => state.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM yjs_updates").one().n)
    await eventually(async () => ((await rows()) >= 4 ? true : undefined), 10_000, "four of the five updates stored").catch(async (error: unknown) => {
      throw new Error(`${String(error)}: ${await rows()} rows, writer ${writerClosed === undefined ? "open" : `closed ${writerClosed.code} ${writerClosed.reason}`}`)
    })
    const stored = (await storedText(id, STORE_INSTANCE)).length
    expect(stored).toBeGreaterThanOrEqual(4 * size)
    expect(text.toString().startsWith(await storedText(id, STORE_INSTANCE))).toBe(true)
    expect(stored % size).toBe(0)
    // Stored, then forwarded.
    await until(() => viewer.doc.getText("t").length >= 4 * size, "the viewer has the stored updates", 10_000)
    writer.close()
    viewer.close()
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
