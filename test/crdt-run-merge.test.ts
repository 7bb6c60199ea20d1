/**
 * `mergeRun`: a pending run of one client's consecutive updates joined into one update. Applied
 * in one transaction it must give the same document and the same transaction update (the run's
 * row) as the updates applied one by one; anything that is not plain concatenation is refused.
 */
import { Effect, Layer } from "effect"
import { describe, expect, it } from "vitest"
import * as Y from "yjs"
import { makeClientOwners } from "../src/actors/crdt/ClientOwners.js"
import { makePendingUpdates } from "../src/actors/crdt/PendingUpdates.js"
import { mergeRun, type RunLayout } from "../src/actors/crdt/RunMerge.js"
import { inspectUpdate } from "../src/actors/crdt/UpdateInspection.js"
import * as YjsDocumentStore from "../src/storage/YjsDocumentStore.js"

/** A small seeded generator (mulberry32): the same edits on every run. */
const random = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

/** An editor's updates, one per edit: inserts (some of several characters, some astral), deletes and replacements anywhere in the text. */
const editUpdates = (doc: Y.Doc, count: number, next: () => number): Array<Uint8Array> => {
  const updates: Array<Uint8Array> = []
  const capture = (update: Uint8Array) => updates.push(update)
  doc.on("update", capture)
  const text = doc.getText("t")
  for (let index = 0; index < count; index++) {
    const at = Math.floor(next() * (text.length + 1))
    const roll = next()
    if (roll < 0.2 && text.length > 0) text.delete(Math.min(at, text.length - 1), 1 + Math.floor(next() * 3))
    else if (roll < 0.3 && text.length > 0)
      doc.transact(() => {
        text.delete(Math.min(at, text.length - 1), 1)
        text.insert(Math.min(at, text.length), "x")
      })
    else text.insert(at, roll < 0.35 ? "😀é" : roll < 0.5 ? "word " : String.fromCharCode(97 + Math.floor(next() * 26)))
  }
  doc.off("update", capture)
  return updates
}

/** The layout `PendingUpdates` keeps for a run checked against `doc`. */
const layoutOf = (doc: Y.Doc, updates: ReadonlyArray<Uint8Array>): RunLayout => {
  const ahead = new Map<number, number>()
  const deleteSetAt: Array<number> = []
  const soleClientEnd: Array<number> = []
  for (const update of updates) {
    const inspection = inspectUpdate(doc, update, 1_000_000, ahead)
    if ("refused" in inspection) throw new Error(inspection.refused)
    for (const client of inspection.authored) ahead.set(client, inspection.ends.get(client) ?? 0)
    deleteSetAt.push(inspection.deleteSetAt)
    soleClientEnd.push(inspection.soleClientEnd)
  }
  return { updates, deleteSetAt, soleClientEnd }
}

/** Apply `updates` to a copy of `base` inside one transaction: the document and that transaction's update. */
const applyInOne = (base: Uint8Array, updates: ReadonlyArray<Uint8Array>) => {
  const doc = new Y.Doc()
  Y.applyUpdate(doc, base)
  let row: Uint8Array | undefined
  const capture = (update: Uint8Array) => {
    row = update
  }
  doc.on("update", capture)
  doc.transact(() => {
    for (const update of updates) Y.applyUpdate(doc, update, "conn")
  }, "conn")
  doc.off("update", capture)
  return { state: Y.encodeStateAsUpdate(doc), text: doc.getText("t").toString(), row, pending: doc.store.pendingStructs !== null || doc.store.pendingDs !== null }
}

describe("mergeRun", () => {
  it("joins runs of one client's consecutive updates into one update: same document, same row, as applying them one by one", () => {
    const next = random(16)
    const editor = new Y.Doc()
    editor.clientID = 4242
    const server = new Y.Doc()
    let joined = 0
    for (const length of [2, 7, 40, 300, 25]) {
      const updates = editUpdates(editor, length, next)
      const base = Y.encodeStateAsUpdate(server)
      const merged = mergeRun(layoutOf(server, updates))
      expect(merged).toBeDefined()
      const oneByOne = applyInOne(base, updates)
      const asOne = applyInOne(base, [merged!])
      expect(asOne.pending).toBe(false)
      expect(asOne.text).toBe(oneByOne.text)
      expect(asOne.state).toEqual(oneByOne.state)
      expect(asOne.row).toEqual(oneByOne.row)
      expect(asOne.text).toBe(editor.getText("t").toString())
      for (const update of updates) Y.applyUpdate(server, update)
      joined++
    }
    expect(joined).toBe(5)
  })

  it("joins a run of deletions only (delete sets gathered, no structs)", () => {
    const editor = new Y.Doc()
    editor.clientID = 7
    const server = new Y.Doc()
    editor.getText("t").insert(0, "abcdefghij")
    Y.applyUpdate(server, Y.encodeStateAsUpdate(editor))
    const updates: Array<Uint8Array> = []
    const capture = (update: Uint8Array) => updates.push(update)
    editor.on("update", capture)
    editor.getText("t").delete(8, 1)
    editor.getText("t").delete(0, 2)
    editor.getText("t").delete(3, 1)
    editor.off("update", capture)
    const merged = mergeRun(layoutOf(server, updates))
    expect(merged).toBeDefined()
    const base = Y.encodeStateAsUpdate(server)
    const asOne = applyInOne(base, [merged!])
    const oneByOne = applyInOne(base, updates)
    expect(asOne.text).toBe("cdeghj")
    expect(asOne.text).toBe(oneByOne.text)
    expect(asOne.row).toEqual(oneByOne.row)
  })

  it("refuses what is not plain concatenation: two clients, a gap, an overlap, two clients in one update, a damaged delete set", () => {
    const a = new Y.Doc()
    a.clientID = 11
    const b = new Y.Doc()
    b.clientID = 12
    const server = new Y.Doc()
    // Inserts only: each update has structs, so leaving one out is a gap.
    const fromA: Array<Uint8Array> = []
    const capture = (update: Uint8Array) => fromA.push(update)
    a.on("update", capture)
    for (const word of ["one ", "two ", "three ", "four "]) a.getText("t").insert(a.getText("t").length, word)
    a.off("update", capture)
    const layout = layoutOf(server, fromA)
    expect(mergeRun(layout)).toBeDefined()
    const pick = (indices: ReadonlyArray<number>): RunLayout => ({
      updates: indices.map((index) => layout.updates[index]!),
      deleteSetAt: indices.map((index) => layout.deleteSetAt[index]!),
      soleClientEnd: indices.map((index) => layout.soleClientEnd[index]!),
    })
    // A gap (the second update left out) and an overlap (the second update twice).
    expect(mergeRun(pick([0, 2, 3]))).toBeUndefined()
    expect(mergeRun(pick([0, 1, 1, 2]))).toBeUndefined()
    // Another client's update in the run.
    Y.applyUpdate(b, Y.encodeStateAsUpdate(a))
    const fromB: Array<Uint8Array> = []
    b.on("update", (update: Uint8Array) => fromB.push(update))
    b.getText("t").insert(0, "b")
    const withB = layoutOf(server, [...fromA, ...fromB])
    expect(withB.soleClientEnd[4]).toBeGreaterThan(0)
    expect(mergeRun(withB)).toBeUndefined()
    // One update holding two clients' structs.
    const both = Y.mergeUpdates([fromA[0]!, Y.encodeStateAsUpdate(b)])
    const bothLayout = layoutOf(server, [both, fromA[1]!])
    expect(bothLayout.soleClientEnd[0]).toBe(-1)
    expect(mergeRun(bothLayout)).toBeUndefined()
    // Bytes after the delete set.
    const damaged = new Uint8Array([...fromA[3]!, 0])
    expect(mergeRun({ ...layout, updates: [...fromA.slice(0, 3), damaged] })).toBeUndefined()
    // A single update is never "joined".
    expect(mergeRun(pick([0]))).toBeUndefined()
  })

  it("the pending queue keeps each update's layout, so a writer's run as the store takes it joins", async () => {
    const owners = await Effect.runPromise(makeClientOwners.pipe(Effect.provide(Layer.sync(YjsDocumentStore.YjsDocumentStore, YjsDocumentStore.makeMemory))))
    const pending = makePendingUpdates({ owners, maxClockJump: 1_000_000, maxRunBytes: 1 << 20 })
    const editor = new Y.Doc()
    editor.clientID = 99
    const doc = new Y.Doc()
    const updates = editUpdates(editor, 60, random(5))
    for (const update of updates) expect(pending.add(doc, update, "conn", { type: "user", id: "u" }, undefined, 0)).toBeUndefined()
    const [run, ...rest] = pending.take()
    expect(rest).toHaveLength(0)
    expect(run!.updates).toHaveLength(60)
    const merged = mergeRun(run!)
    expect(merged).toBeDefined()
    expect(applyInOne(Y.encodeStateAsUpdate(doc), [merged!]).row).toEqual(applyInOne(Y.encodeStateAsUpdate(doc), updates).row)
  })
})
