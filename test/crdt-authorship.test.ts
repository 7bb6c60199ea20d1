/**
 * R9 (authorship): a Yjs client id belongs to the actor that first wrote structs under it or
 * announced awareness under it; nobody else may write under it, over a socket or HTTP, before or
 * after its owner leaves, before or after a restart. What others see of awareness carries the
 * grant's actor, stamped by the server.
 */
import { abortAllDurableObjects, runInDurableObject } from "cloudflare:test"
import { describe, expect, it } from "vitest"
import * as Y from "yjs"
import { encodeAwarenessUpdate } from "../src/actors/crdt/Awareness.js"
import { awarenessFrame, updateFrame } from "../src/actors/crdt/YjsProtocol.js"
import type { Actor } from "../src/schema/Common.js"
import { failureOf, runExit, runTest, uniqueId } from "./helpers.js"
import { connectYjs, crdtService, crdtStub, editUpdate, fromBase64, toBase64, until } from "./crdt-helpers.js"
import { eventually, sleep } from "./live-helpers.js"

const room = (id: string) => crdtService().crdtRoom(id)

const grant = (id: string, actorId: string, name?: string) =>
  runTest(room(id).authorize({ actor: { type: "user", id: actorId, ...(name === undefined ? {} : { name }) }, ttlSeconds: 120 }))

/** Stored state: a change to any of these means a refused write got through. */
const fingerprint = async (id: string) => {
  const stats = await runTest(room(id).documentStats())
  const sync = await runTest(room(id).syncYjs())
  return { lastSeq: stats.lastSeq, storedBytes: stats.storedBytes, state: sync.updateBase64 }
}

const serverText = async (id: string) => {
  const doc = new Y.Doc()
  Y.applyUpdate(doc, fromBase64((await runTest(room(id).syncYjs())).updateBase64))
  return doc.getText("t").toString()
}

/** An update written under `clientId` on top of the server's current document. */
const forgedUpdate = async (id: string, clientId: number, text: string) => {
  const forged = new Y.Doc()
  Y.applyUpdate(forged, fromBase64((await runTest(room(id).syncYjs())).updateBase64))
  forged.clientID = clientId
  return editUpdate(forged, (doc) => doc.getText("t").insert(0, text))
}

const awarenessOf = (clientId: number, clock: number, state: Record<string, unknown> | null) => awarenessFrame(encodeAwarenessUpdate([{ clientId, clock, state }]))

/** Wait until the server's document reads `text`. */
const stored = (id: string, text: string) => eventually(async () => ((await serverText(id)) === text ? true : undefined), 3000, `server has "${text}"`)

describe("R9 Yjs authorship: client ids belong to their first writer", () => {
  it("refuses a socket update with structs under another editor's client id (1008), document unchanged; the owner keeps editing", async () => {
    const id = uniqueId("r9-socket")
    const alice = await connectYjs(await grant(id, "alice"))
    const bob = await connectYjs(await grant(id, "bob"))
    await Promise.all([alice.synced, bob.synced])
    alice.doc.getText("t").insert(0, "alice wrote this")
    await until(() => bob.doc.getText("t").toString() === "alice wrote this", "bob has alice's text")
    const before = await fingerprint(id)

    const mallory = await connectYjs(await grant(id, "mallory"))
    await mallory.synced
    mallory.sendRaw(updateFrame(await forgedUpdate(id, alice.doc.clientID, "FORGED ")))
    const closed = await mallory.closed
    expect(closed.code).toBe(1008)
    expect(closed.reason).toContain("belongs to another actor")
    expect(await fingerprint(id)).toEqual(before)
    expect(bob.doc.getText("t").toString()).toBe("alice wrote this")

    // Alice and Bob keep converging; Bob may delete Alice's text (a delete set names the author
    // of what is deleted) and re-send Alice's structs he already has (a relayed duplicate).
    alice.doc.getText("t").insert(16, "!")
    await until(() => bob.doc.getText("t").toString() === "alice wrote this!", "alice still edits")
    bob.doc.getText("t").delete(0, 6)
    await until(() => alice.doc.getText("t").toString() === "wrote this!", "bob deleted alice's word")
    bob.sendRaw(updateFrame(Y.encodeStateAsUpdate(bob.doc)))
    await sleep(100)
    expect(bob.socket.readyState).toBe(WebSocket.OPEN)
    expect(await serverText(id)).toBe("wrote this!")
    alice.close()
    bob.close()
  })

  it("refuses HTTP updates under another actor's client id (InvalidInput); a service actor writes its own ids only", async () => {
    const id = uniqueId("r9-http")
    const alice = await connectYjs(await grant(id, "alice"))
    await alice.synced
    alice.doc.getText("t").insert(0, "hello")
    await stored(id, "hello")
    const before = await fingerprint(id)
    const mallory: Actor = { type: "user", id: "mallory" }
    const refused = failureOf(await runExit(room(id).applyYjsUpdate({ updateBase64: toBase64(await forgedUpdate(id, alice.doc.clientID, "X")), actor: mallory })))
    expect(refused._tag).toBe("InvalidInput")
    expect(refused.message).toContain("belongs to another actor")
    expect(await fingerprint(id)).toEqual(before)

    // A service actor binds the ids it writes, like anyone; it cannot write Alice's...
    const server: Actor = { type: "service", id: "importer" }
    const serviceDoc = new Y.Doc()
    Y.applyUpdate(serviceDoc, fromBase64((await runTest(room(id).syncYjs())).updateBase64))
    await runTest(room(id).applyYjsUpdate({ updateBase64: toBase64(editUpdate(serviceDoc, (doc) => doc.getText("t").insert(5, " world"))), actor: server }))
    expect(failureOf(await runExit(room(id).applyYjsUpdate({ updateBase64: toBase64(await forgedUpdate(id, alice.doc.clientID, "Y")), actor: server })))._tag).toBe("InvalidInput")
    // ...and Alice cannot write the service's.
    alice.sendRaw(updateFrame(await forgedUpdate(id, serviceDoc.clientID, "Z")))
    expect((await alice.closed).code).toBe(1008)
    expect(await serverText(id)).toBe("hello world")
  })

  it("the owner reconnecting keeps its client id, across a restart; another actor still cannot take it", async () => {
    const id = uniqueId("r9-restart")
    const doc = new Y.Doc()
    const first = await connectYjs(await grant(id, "alice"), { doc })
    await first.synced
    doc.getText("t").insert(0, "one")
    await stored(id, "one")
    first.close()
    await first.closed

    await abortAllDurableObjects()
    const before = await fingerprint(id)
    expect(await serverText(id)).toBe("one")
    const refused = failureOf(await runExit(room(id).applyYjsUpdate({ updateBase64: toBase64(await forgedUpdate(id, doc.clientID, "X")), actor: { type: "user", id: "mallory" } })))
    expect(refused._tag).toBe("InvalidInput")
    expect(await fingerprint(id)).toEqual(before)

    // Same Y.Doc (same client id), same actor, new socket after the restart: accepted.
    const again = await connectYjs(await grant(id, "alice"), { doc })
    await again.synced
    doc.getText("t").insert(3, " two")
    await stored(id, "one two")
    expect(again.socket.readyState).toBe(WebSocket.OPEN)
    again.close()
  })

  it("awareness client ids follow the same owners: no takeover while present, after close, or after a restart; the owner comes back", async () => {
    const id = uniqueId("r9-awareness")
    const alice = await connectYjs(await grant(id, "alice", "Alice"))
    const bob = await connectYjs(await grant(id, "bob"))
    await Promise.all([alice.synced, bob.synced])
    const aliceId = alice.doc.clientID
    alice.awareness.setLocalState({ user: { name: "Alice", color: "#f00" } })
    await until(() => bob.awareness.getStates().has(aliceId), "bob sees alice")

    const takeOver = async (clock: number) => {
      const mallory = await connectYjs(await grant(id, "mallory"), { doc: new Y.Doc() })
      await mallory.synced
      mallory.sendRaw(awarenessOf(aliceId, clock, { user: { name: "Alice" }, cursor: "forged" }))
      return (await mallory.closed).code
    }
    expect(await takeOver(50)).toBe(1008)
    const lastClock = alice.awareness.meta.get(aliceId)!.clock
    alice.close()
    await until(() => !bob.awareness.getStates().has(aliceId), "alice gone from bob's view")
    expect(await takeOver(100)).toBe(1008)
    // Alice's provider comes back and re-announces the clock its state had: accepted at once
    // (the server forwards it one clock later, so every replica takes it).
    const returning = await connectYjs(await grant(id, "alice", "Alice"), { doc: alice.doc })
    await returning.synced
    returning.sendRaw(awarenessOf(aliceId, lastClock, { user: { name: "Alice", color: "#f00" } }))
    await until(() => bob.awareness.getStates().has(aliceId), "bob sees alice back")
    expect(bob.awareness.meta.get(aliceId)!.clock).toBe(lastClock + 1)
    returning.close()
    await until(() => !bob.awareness.getStates().has(aliceId), "alice gone again")
    await abortAllDurableObjects()
    await bob.closed
    expect(await takeOver(150)).toBe(1008)
    expect((await runTest(room(id).awareness())).states).toEqual([])

    // Alice's provider reconnects with the same client id and is accepted; a watcher sees her.
    const watcher = await connectYjs(await grant(id, "bob"))
    const back = await connectYjs(await grant(id, "alice", "Alice"), { doc: alice.doc })
    await Promise.all([watcher.synced, back.synced])
    back.sendRaw(awarenessOf(aliceId, 200, { user: { name: "Alice", color: "#f00" } }))
    await until(() => watcher.awareness.getStates().has(aliceId), "watcher sees alice again")
    expect(back.socket.readyState).toBe(WebSocket.OPEN)
    watcher.close()
    back.close()
  })

  it("ids that only announced awareness are forgotten at a wake once a day old; writers' ids are kept", async () => {
    const id = uniqueId("r9-prune")
    const writer = await connectYjs(await grant(id, "alice"))
    const viewer = await connectYjs(await grant(id, "carol"))
    await Promise.all([writer.synced, viewer.synced])
    writer.doc.getText("t").insert(0, "written")
    viewer.awareness.setLocalState({ user: { name: "carol" } })
    await stored(id, "written")
    const bindings = () =>
      runInDurableObject(crdtStub(id), (_instance, state) =>
        state.storage.sql.exec<{ client_id: number; owner: string }>("SELECT client_id, owner FROM yjs_client_owners ORDER BY owner").toArray().map((row) => ({ ...row })),
      )
    await eventually(async () => ((await bindings()).length === 2 ? true : undefined), 3000, "both ids bound")
    expect(await bindings()).toEqual([
      { client_id: writer.doc.clientID, owner: "user:alice" },
      { client_id: viewer.doc.clientID, owner: "user:carol" },
    ])
    // A day and a bit later (bound_at moved back), the next wake keeps only the writer's.
    await runInDurableObject(crdtStub(id), (_instance, state) => {
      state.storage.sql.exec("UPDATE yjs_client_owners SET bound_at = bound_at - ?", 25 * 3600 * 1000)
    })
    await abortAllDurableObjects()
    await Promise.all([writer.closed, viewer.closed])
    expect(await serverText(id)).toBe("written")
    expect(await bindings()).toEqual([{ client_id: writer.doc.clientID, owner: "user:alice" }])
    expect(failureOf(await runExit(room(id).applyYjsUpdate({ updateBase64: toBase64(await forgedUpdate(id, writer.doc.clientID, "X")), actor: { type: "user", id: "mallory" } })))._tag).toBe("InvalidInput")
  })

  it("relays of others' states (a stock provider echoes every state it receives) are skipped, not refused", async () => {
    const id = uniqueId("r9-relay")
    const editors = await Promise.all(["ann", "ben", "cid", "dot", "eve", "fay"].map(async (name) => connectYjs(await grant(id, name))))
    await Promise.all(editors.map((editor) => editor.synced))
    for (const editor of editors) editor.awareness.setLocalState({ user: { name: "x" } })
    const relayer = editors[0]!
    await until(() => relayer.awareness.getStates().size === editors.length, "everyone present")
    // The full present set, at the clocks the server sent: more states than one connection may
    // announce, all of them other actors' ids.
    const present = (await runTest(room(id).awareness())).states
    relayer.sendRaw(awarenessFrame(encodeAwarenessUpdate(present.map((state) => ({ clientId: state.clientId, clock: state.clock, state: state.state as Record<string, unknown> })))))
    // Removals relayed at the same clock (a provider's own timeout of a remote state) too.
    relayer.sendRaw(awarenessFrame(encodeAwarenessUpdate(present.filter((state) => state.clientId !== relayer.doc.clientID).map((state) => ({ clientId: state.clientId, clock: state.clock, state: null })))))
    await sleep(100)
    expect(relayer.socket.readyState).toBe(WebSocket.OPEN)
    expect((await runTest(room(id).awareness())).states).toHaveLength(editors.length)
    for (const editor of editors) editor.close()
  })

  it("stamps the grant's actor into what others see: a name cannot be forged", async () => {
    const id = uniqueId("r9-stamp")
    const watcher = await connectYjs(await grant(id, "ada", "Ada"))
    const mallory = await connectYjs(await grant(id, "mallory", "Mallory"))
    await Promise.all([watcher.synced, mallory.synced])
    mallory.awareness.setLocalState({ user: { name: "Ada (admin)", color: "#0f0" }, actor: { type: "user", id: "ada" }, cursor: null })
    const seen = await until(() => watcher.awareness.getStates().has(mallory.doc.clientID), "watcher sees mallory").then(
      () => watcher.awareness.getStates().get(mallory.doc.clientID) as Record<string, unknown>,
    )
    expect(seen).toEqual({ user: { name: "Mallory", color: "#0f0" }, actor: { type: "user", id: "mallory", name: "Mallory" }, cursor: null })
    // A string `user` becomes the actor's name; HTTP awareness is stamped with its actor too.
    mallory.awareness.setLocalState({ user: "Ada (admin)" })
    await until(() => (watcher.awareness.getStates().get(mallory.doc.clientID) as { user?: unknown } | undefined)?.user === "Mallory", "string user stamped")
    await runTest(room(id).awareness({ clientId: 77, state: { user: { name: "Ada" } }, actor: { type: "service", id: "bot", name: "Bot" } }))
    await until(() => watcher.awareness.getStates().has(77), "watcher sees the bot")
    expect(watcher.awareness.getStates().get(77)).toEqual({ user: { name: "Bot" }, actor: { type: "service", id: "bot", name: "Bot" } })
    // The bot's id is the bot's: another actor cannot set it over HTTP either.
    expect(failureOf(await runExit(room(id).awareness({ clientId: 77, state: {}, actor: { type: "user", id: "mallory" } })))._tag).toBe("InvalidInput")
    watcher.close()
    mallory.close()
  })
})
