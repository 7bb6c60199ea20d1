/**
 * The document logic of a CRDT room (`YjsStore`: validation, ownership, coalescing, folds) on the
 * in-memory `YjsDocumentStore`: a "restart" builds a new YjsStore over the same storage. The
 * integration proofs on real objects are the crdt-*.test.ts files.
 */
import { Effect, Layer } from "effect"
import { describe, expect, it } from "vitest"
import * as Y from "yjs"
import { makeClientOwners, ownerKey } from "../src/actors/crdt/ClientOwners.js"
import { makeYjsStore } from "../src/actors/crdt/YjsStore.js"
import type { Actor } from "../src/schema/Common.js"
import * as YjsDocumentStore from "../src/storage/YjsDocumentStore.js"
import { failureOf } from "./helpers.js"

const T0 = 1_800_000_000_000
const alice: Actor = { type: "user", id: "alice" }
const bob: Actor = { type: "user", id: "bob" }

/** A YjsStore over `storage`, as a CRDT room builds it at a wake. */
const wake = (storage: YjsDocumentStore.YjsDocumentStoreShape) =>
  Effect.gen(function* () {
    const owners = yield* makeClientOwners
    const store = yield* makeYjsStore({ owners, maxClockJump: 1_000_000 })
    return { owners, store }
  }).pipe(Effect.provide(Layer.succeed(YjsDocumentStore.YjsDocumentStore, storage)))

/** An editor with its own client id, producing one update per edit. */
const editor = (clientID: number) => {
  const doc = new Y.Doc()
  doc.clientID = clientID
  return {
    doc,
    insert: (text: string) => {
      const before = Y.encodeStateVector(doc)
      doc.getText("t").insert(doc.getText("t").length, text)
      return Y.encodeStateAsUpdate(doc, before)
    },
  }
}

const text = (doc: Y.Doc) => doc.getText("t").toString()

describe("YjsStore on memory storage", () => {
  it("keeps every update across restarts, before and after a fold, and a refused update changes nothing", async () => {
    const storage = YjsDocumentStore.makeMemory()
    const a = editor(101)
    const b = editor(202)
    const result = await Effect.runPromise(
      Effect.gen(function* () {
        const first = yield* wake(storage)
        const one = yield* first.store.apply(a.insert("hello "), "conn-a", alice, T0)
        const again = yield* first.store.apply(Y.encodeStateAsUpdate(a.doc), "conn-a", alice, T0 + 1)
        // Bob writes under alice's client id: refused, document and storage unchanged.
        const forged = yield* Effect.exit(first.store.apply(a.insert("forged"), "conn-b", bob, T0 + 2))
        const afterForge = text(first.store.doc())
        const folded = yield* first.store.compact
        const second = yield* wake(storage)
        const rebuilt = text(second.store.doc())
        const two = yield* second.store.apply(b.insert("world"), "conn-b", bob, T0 + 3)
        const third = yield* wake(storage)
        return {
          one,
          again,
          forged: failureOf(forged)._tag,
          afterForge,
          folded,
          rebuilt,
          two,
          final: text(third.store.doc()),
          lastSeq: third.store.lastSeq(),
          log: third.store.log(),
          owners: [third.owners.ownerOf(101), third.owners.ownerOf(202)],
          stream: (yield* third.store.stream(0, 10)).entries.map((entry) => [entry.seq, entry.clientId, entry.actor]),
        }
      }),
    )
    expect(result.one).toEqual({ seq: 1, duplicate: false })
    expect(result.again).toEqual({ seq: 1, duplicate: true })
    expect(result.forged).toBe("InvalidInput")
    expect(result.afterForge).toBe("hello ")
    expect(result.folded.compactedThrough).toBe(1)
    expect(result.folded.foldedUpdates).toBe(1)
    expect(result.rebuilt).toBe("hello ")
    expect(result.two).toEqual({ seq: 2, duplicate: false })
    expect(result.final).toBe("hello world")
    expect(result.lastSeq).toBe(2)
    expect(result.log.count).toBe(1)
    expect(result.owners).toEqual([ownerKey(alice), ownerKey(bob)])
    expect(result.stream).toEqual([[2, "conn-b", bob]])
  })

  it("stores a run of pending updates from one connection as one merged row, with its bindings", async () => {
    const storage = YjsDocumentStore.makeMemory()
    const a = editor(303)
    const b = editor(404)
    const result = await Effect.runPromise(
      Effect.gen(function* () {
        const { store } = yield* wake(storage)
        for (const piece of ["a", "b", "c"]) store.applyPending(a.insert(piece), "conn-a", alice, undefined, T0)
        store.applyPending(b.insert("z"), "conn-b", bob, undefined, T0)
        const flushed = store.flushPending()
        const restarted = yield* wake(storage)
        return {
          flushed: flushed.failure === undefined ? flushed.stored.map((run) => [run.seq, run.origin]) : flushed,
          rows: (yield* storage.load).updates.map((row) => row.seq),
          bindings: (yield* storage.bindings).map((binding) => [binding.client, binding.owner]).sort(),
          text: text(restarted.store.doc()),
        }
      }),
    )
    expect(result.flushed).toEqual([
      [1, "conn-a"],
      [2, "conn-b"],
    ])
    expect(result.rows).toEqual([1, 2])
    expect(result.bindings).toEqual([
      [303, ownerKey(alice)],
      [404, ownerKey(bob)],
    ])
    expect(result.text).toBe("abcz")
  })
  it("counts the bytes of the pending updates it accepted (not those it refused) and forgets them once stored", async () => {
    const storage = YjsDocumentStore.makeMemory()
    const a = editor(808)
    const result = await Effect.runPromise(
      Effect.gen(function* () {
        const { store } = yield* wake(storage)
        const first = a.insert("x".repeat(1000))
        const second = a.insert("y".repeat(500))
        const dave = editor(909)
        dave.insert("d")
        const early = dave.insert("e") // refused on arrival: its first edit never came
        store.applyPending(first, "conn-a", alice, undefined, T0)
        store.applyPending(second, "conn-a", alice, undefined, T0)
        const refused = store.applyPending(early, "conn-d", bob, undefined, T0)
        const pending = store.pendingBytes()
        store.flushPending()
        return { expected: first.byteLength + second.byteLength, pending, refused: "_tag" in refused, after: store.pendingBytes() }
      }),
    )
    expect(result.refused).toBe(true)
    expect(result.pending).toBe(result.expected)
    expect(result.after).toBe(0)
  })

  it("checks pending updates on arrival but applies them only when stored; one that only applying refuses drops its connection's pending updates, the others are stored", async () => {
    const storage = YjsDocumentStore.makeMemory()
    const a = editor(303)
    const carol = editor(505)
    // Carol writes after text from a client the room never received: her update parses and its
    // clocks are fine, but its struct's origin is missing, which only applying finds.
    const ghost = editor(606)
    Y.applyUpdate(carol.doc, ghost.insert("ghost "))
    const result = await Effect.runPromise(
      Effect.gen(function* () {
        const { store, owners } = yield* wake(storage)
        const accepted = [
          store.applyPending(a.insert("a"), "conn-a", alice, undefined, T0),
          store.applyPending(a.insert("b"), "conn-a", alice, undefined, T0),
          store.applyPending(carol.insert("orphan"), "conn-c", bob, undefined, T0),
          store.applyPending(carol.insert("!"), "conn-c", bob, undefined, T0),
          store.applyPending(a.insert("c"), "conn-a", alice, undefined, T0),
        ]
        // A dependency missing by clock is still refused on arrival: dave's second edit without his first.
        const dave = editor(707)
        dave.insert("x")
        const early = store.applyPending(dave.insert("y"), "conn-d", bob, undefined, T0)
        const beforeStore = text(store.doc())
        const flushed = store.flushPending()
        const again = store.applyPending(Y.encodeStateAsUpdate(a.doc), "conn-a", alice, undefined, T0)
        const duplicate = store.flushPending()
        const restarted = yield* wake(storage)
        return {
          accepted,
          early: "_tag" in early ? early._tag : early,
          beforeStore,
          stored: flushed.stored.map((run) => run.origin),
          refused: flushed.refused.map(({ origin, error }) => [origin, error._tag]),
          afterStore: text(store.doc()),
          again,
          duplicate: duplicate.stored.length,
          carolOwner: owners.ownerOf(505),
          rows: (yield* storage.load).updates.length,
          restarted: text(restarted.store.doc()),
          bindings: (yield* storage.bindings).map((binding) => binding.client).sort(),
        }
      }),
    )
    expect(result.accepted).toEqual([{ pending: true }, { pending: true }, { pending: true }, { pending: true }, { pending: true }])
    expect(result.early).toBe("InvalidInput")
    // Nothing pending is in the document before it is stored.
    expect(result.beforeStore).toBe("")
    expect(result.stored).toEqual(["conn-a", "conn-a"])
    expect(result.refused).toEqual([["conn-c", "InvalidInput"]])
    expect(result.afterStore).toBe("abc")
    // A run that changes nothing stores no row.
    expect(result.again).toEqual({ pending: true })
    expect(result.duplicate).toBe(0)
    expect(result.rows).toBe(2)
    expect(result.carolOwner).toBeUndefined()
    expect(result.restarted).toBe("abc")
    expect(result.bindings).toEqual([303])
  })
})
