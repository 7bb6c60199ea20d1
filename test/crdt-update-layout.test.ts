/**
 * `scanPlainUpdate` reads a plain update's layout (per-client clock range, delete-set offset)
 * without building structs. Where it answers, it must agree with Yjs's own parse exactly; where it
 * cannot be exact it must leave the update to Yjs.
 */
import { describe, expect, it } from "vitest"
import * as Y from "yjs"
import { parseLayout, readLayout, scanPlainUpdate, type UpdateLayout } from "../src/actors/crdt/UpdateLayout.js"

const random = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

/** One update per edit on a text, a map and an array: ASCII and non-ASCII inserts, deletes, replacements. */
const updatesOf = (clientID: number, count: number, next: () => number): Array<Uint8Array> => {
  const doc = new Y.Doc()
  doc.clientID = clientID
  const updates: Array<Uint8Array> = []
  doc.on("update", (update: Uint8Array) => updates.push(update))
  const text = doc.getText("t")
  for (let index = 0; index < count; index++) {
    const at = Math.floor(next() * (text.length + 1))
    const roll = next()
    if (roll < 0.2 && text.length > 0) text.delete(Math.min(at, text.length - 1), 1 + Math.floor(next() * 4))
    else if (roll < 0.3) doc.getMap("m").set(`k${index % 5}`, index)
    else if (roll < 0.35) doc.getArray("a").insert(0, [{ n: index }])
    else if (roll < 0.45) text.insert(at, "é😀")
    else if (roll < 0.5) text.insert(at, "", { bold: true })
    else text.insert(at, roll < 0.6 ? "several words " : String.fromCharCode(97 + Math.floor(next() * 26)))
  }
  return updates
}

const plain = (layout: UpdateLayout) => ({ from: [...layout.from], to: [...layout.to], deleteSetAt: layout.deleteSetAt })

describe("update layout", () => {
  it("the plain scan agrees with Yjs's parse wherever it answers, and answers for one client's ASCII text", () => {
    const next = random(7)
    let scanned = 0
    let left = 0
    for (const update of [...updatesOf(31, 400, next), ...updatesOf(2 ** 31 + 5, 100, next)]) {
      const scan = scanPlainUpdate(update)
      if (scan === undefined) left++
      else {
        scanned++
        expect(plain(scan)).toEqual(plain(parseLayout(update)))
      }
      expect(plain(readLayout(update))).toEqual(plain(parseLayout(update)))
    }
    // Most edits are ASCII text; maps, arrays, formats and non-ASCII text go to Yjs.
    expect(scanned).toBeGreaterThan(250)
    expect(left).toBeGreaterThan(50)
  })

  it("leaves to Yjs: several clients, a non-ASCII type name, truncated bytes; a delete-only update has no structs", () => {
    const a = updatesOf(1, 20, random(1))
    const b = updatesOf(2, 20, random(2))
    const both = Y.mergeUpdates([...a, ...b])
    expect(scanPlainUpdate(both)).toBeUndefined()
    expect(plain(readLayout(both))).toEqual(plain(parseLayout(both)))

    const named = new Y.Doc()
    let update: Uint8Array | undefined
    named.on("update", (bytes: Uint8Array) => (update = bytes))
    named.getText("tëxt").insert(0, "abc")
    expect(scanPlainUpdate(update!)).toBeUndefined()

    const ascii = updatesOf(3, 1, () => 0.9)[0]!
    expect(scanPlainUpdate(ascii)).toBeDefined()
    for (let cut = 1; cut < ascii.length - 1; cut++) {
      const truncated = ascii.subarray(0, cut)
      const scan = scanPlainUpdate(truncated)
      // A cut inside the structs is never answered; one inside the delete set reads the same structs as Yjs.
      if (scan !== undefined) expect(plain(scan)).toEqual(plain(parseLayout(truncated)))
    }

    const doc = new Y.Doc()
    doc.getText("t").insert(0, "abcdef")
    let deletion: Uint8Array | undefined
    doc.on("update", (bytes: Uint8Array) => (deletion = bytes))
    doc.getText("t").delete(1, 3)
    expect(plain(scanPlainUpdate(deletion!)!)).toEqual({ from: [], to: [], deleteSetAt: 1 })
    expect(plain(parseLayout(deletion!))).toEqual({ from: [], to: [], deleteSetAt: 1 })
  })
})
