/**
 * R3, R9 — CRDT rooms under faults and races: restarts during concurrent editing, compaction
 * racing writes (fast-check scheduler), alarms that fire twice.
 */
import { abortAllDurableObjects, runDurableObjectAlarm } from "cloudflare:test"
import { Exit } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import * as Y from "yjs"
import { runExit, runTest, uniqueId } from "./helpers.js"
import { crdtService, crdtStub, editUpdate, fromBase64, toBase64 } from "./crdt-helpers.js"

const room = (id: string) => crdtService().crdtRoom(id)

const serverDoc = async (id: string) => {
  const doc = new Y.Doc()
  Y.applyUpdate(doc, fromBase64((await runTest(room(id).syncYjs())).updateBase64))
  return doc
}

/** Every stored stream entry, oldest first. */
const allEntries = async (id: string) => {
  const entries: Array<{ seq: number; updateBase64: string }> = []
  let cursor = 0
  for (;;) {
    const page = await runTest(room(id).stream({ cursor, limit: 1000 }))
    entries.push(...page.entries)
    if (page.nextCursor === null) return { entries, compactedThrough: page.compactedThrough, lastSeq: page.lastSeq }
    cursor = page.nextCursor
  }
}

/** Struct ranges `(client, clock..clock+length)` an update carries, to find anything stored twice. */
const structRanges = (update: Uint8Array) =>
  Y.decodeUpdate(update).structs.filter((struct) => struct.constructor.name !== "Skip").map((struct) => ({ client: struct.id.client, from: struct.id.clock, to: struct.id.clock + struct.length }))

describe("R3, R9: CRDT rooms under faults and races", () => {
  it("25 restarts during concurrent editing: no acknowledged edit lost, nothing stored twice, no sequence gap", async () => {
    const id = uniqueId("crdt-faults")
    const WRITERS = 4
    const ROUNDS = 25
    const writers = Array.from({ length: WRITERS }, () => new Y.Doc())
    let acknowledged = 0
    let failedCalls = 0
    const editUntilAcknowledged = async (writer: Y.Doc, token: string) => {
      const update = editUpdate(writer, (doc) => doc.getArray<string>(`w${writer.clientID}`).push([token]))
      for (let attempt = 0; attempt < 50; attempt++) {
        const exit = await runExit(room(id).applyYjsUpdate({ updateBase64: toBase64(update), clientId: writer.clientID }))
        if (Exit.isSuccess(exit)) {
          acknowledged++
          return
        }
        failedCalls++
      }
      throw new Error(`edit ${token} never acknowledged`)
    }
    for (let round = 0; round < ROUNDS; round++) {
      const inFlight = Promise.all(writers.map((writer, index) => editUntilAcknowledged(writer, `r${round}-w${index}`)))
      await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 3)))
      await abortAllDurableObjects()
      await inFlight
    }
    const server = await serverDoc(id)
    let lost = 0
    for (const writer of writers) {
      const expected = writer.getArray<string>(`w${writer.clientID}`).toArray()
      const stored = server.getArray<string>(`w${writer.clientID}`).toArray()
      lost += expected.filter((token) => !stored.includes(token)).length
      expect(stored).toEqual(expected)
    }
    const { entries, lastSeq } = await allEntries(id)
    const seqs = entries.map((entry) => entry.seq)
    const gaps = seqs.filter((seq, index) => seq !== index + 1).length
    const ranges = entries.flatMap((entry) => structRanges(fromBase64(entry.updateBase64)))
    const duplicates = ranges.filter((range, index) => ranges.some((other, j) => j < index && other.client === range.client && other.from < range.to && range.from < other.to)).length
    console.log(`R3/R9 figures: restarts=${ROUNDS} acknowledged=${acknowledged} failedCalls=${failedCalls} lost=${lost} duplicates=${duplicates} gaps=${gaps}`)
    expect({ lost, duplicates, gaps, lastSeq }).toEqual({ lost: 0, duplicates: 0, gaps: 0, lastSeq: WRITERS * ROUNDS })
  })

  it("compaction racing concurrent writes (fast-check scheduler): content and stream stay exact", async () => {
    let runs = 0
    let violations = 0
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), fc.integer({ min: 2, max: 8 }), fc.integer({ min: 1, max: 3 }), async (s, writes, compactions) => {
        runs++
        const id = uniqueId("crdt-race")
        const writer = new Y.Doc()
        const updates = Array.from({ length: writes }, (_, i) => editUpdate(writer, (doc) => doc.getText("t").insert(doc.getText("t").length, `${i};`)))
        // Updates depend on each other, so each is scheduled after the previous one is acknowledged;
        // compactions land anywhere in between.
        const chain = (async () => {
          for (const update of updates) await s.schedule(runTest(room(id).applyYjsUpdate({ updateBase64: toBase64(update) })), "write")
        })()
        const compacting = Array.from({ length: compactions }, () => s.schedule(Promise.resolve(), "compact").then(() => runTest(room(id).compact())))
        await s.waitFor(Promise.all([chain, ...compacting]))
        const text = (await serverDoc(id)).getText("t").toString()
        const { entries, compactedThrough, lastSeq } = await allEntries(id)
        const ok =
          text === writer.getText("t").toString() &&
          lastSeq === writes &&
          entries.every((entry, index) => entry.seq === compactedThrough + index + 1) &&
          compactedThrough + entries.length === lastSeq
        if (!ok) violations++
        return ok
      }),
      { numRuns: 25 },
    )
    console.log(`R9 compaction race figures: runs=${runs} violations=${violations}`)
    expect(violations).toBe(0)
  })

  it("an alarm that fires twice compacts once and changes nothing the second time", async () => {
    const id = uniqueId("crdt-alarm-twice")
    const writer = new Y.Doc()
    for (let i = 0; i < 22; i++) {
      await runTest(room(id).applyYjsUpdate({ updateBase64: toBase64(editUpdate(writer, (doc) => doc.getText("t").insert(0, `${i}`))) }))
    }
    await runDurableObjectAlarm(crdtStub(id))
    const first = await runTest(room(id).documentStats())
    await runDurableObjectAlarm(crdtStub(id))
    const second = await runTest(room(id).documentStats())
    expect(second.compactedThrough).toBe(first.compactedThrough)
    expect(second.storedBytes).toBe(first.storedBytes)
    expect((await serverDoc(id)).getText("t").toString()).toBe(writer.getText("t").toString())
  })
})
