/**
 * CRDT rooms: HTTP and y-websocket clients converge; offline catch-up; awareness; origins are
 * not echoed; read-only grants sync but cannot write.
 */
import { describe, expect, it } from "vitest"
import * as Y from "yjs"
import { runTest, uniqueId } from "./helpers.js"
import { connectYjs, crdtGrant, crdtService, editUpdate, fromBase64, toBase64, until } from "./crdt-helpers.js"

const room = (id: string) => crdtService().crdtRoom(id)

describe("CRDT rooms: sync", () => {
  it("applies HTTP updates in order, returns the state vector and position, and stores a repeated update once", async () => {
    const id = uniqueId("crdt-http")
    const client = new Y.Doc()
    const first = editUpdate(client, (doc) => doc.getText("body").insert(0, "hello"))
    const applied = await runTest(room(id).applyYjsUpdate({ updateBase64: toBase64(first), clientId: client.clientID }))
    expect(applied.seq).toBe(1)
    expect(applied.duplicate).toBe(false)
    expect(Y.decodeStateVector(fromBase64(applied.stateVectorBase64)).get(client.clientID)).toBe(5)
    const again = await runTest(room(id).applyYjsUpdate({ updateBase64: toBase64(first) }))
    expect(again).toMatchObject({ seq: 1, duplicate: true })
    const second = editUpdate(client, (doc) => doc.getText("body").insert(5, " world"))
    expect((await runTest(room(id).applyYjsUpdate({ updateBase64: toBase64(second) }))).seq).toBe(2)

    const page = await runTest(room(id).stream({ cursor: 0 }))
    expect(page.entries.map((entry) => entry.seq)).toEqual([1, 2])
    expect(page.entries[0]!.clientId).toBe(String(client.clientID))
    expect(page.entries[1]!.updateBase64).toBe(toBase64(second))
    expect(page).toMatchObject({ compactedThrough: 0, truncated: false, lastSeq: 2, nextCursor: null })
  })

  it("an offline client catches up with one syncYjs call: exactly what it is missing", async () => {
    const id = uniqueId("crdt-offline")
    const writer = new Y.Doc()
    await runTest(room(id).applyYjsUpdate({ updateBase64: toBase64(editUpdate(writer, (doc) => doc.getText("t").insert(0, "abc"))) }))
    const offline = new Y.Doc()
    const full = await runTest(room(id).syncYjs())
    Y.applyUpdate(offline, fromBase64(full.updateBase64))
    expect(offline.getText("t").toString()).toBe("abc")

    for (const text of ["def", "ghi"]) {
      await runTest(room(id).applyYjsUpdate({ updateBase64: toBase64(editUpdate(writer, (doc) => doc.getText("t").insert(doc.getText("t").length, text))) }))
    }
    const missing = await runTest(room(id).syncYjs({ stateVectorBase64: toBase64(Y.encodeStateVector(offline)) }))
    expect(fromBase64(missing.updateBase64).byteLength).toBeLessThan(fromBase64(full.updateBase64).byteLength + 20)
    Y.applyUpdate(offline, fromBase64(missing.updateBase64))
    expect(offline.getText("t").toString()).toBe("abcdefghi")
    expect(missing.seq).toBe(3)
  })

  it("y-websocket clients and an HTTP client converge, and no update is echoed to its author", async () => {
    const id = uniqueId("crdt-converge")
    const alice = await connectYjs(await crdtGrant(id, "alice"))
    const bob = await connectYjs(await crdtGrant(id, "bob"))
    await Promise.all([alice.synced, bob.synced])

    alice.doc.getText("body").insert(0, "from alice. ")
    bob.doc.getMap("meta").set("title", "Doc")
    const http = new Y.Doc()
    Y.applyUpdate(http, fromBase64((await runTest(room(id).syncYjs())).updateBase64))
    await runTest(room(id).applyYjsUpdate({ updateBase64: toBase64(editUpdate(http, (doc) => doc.getArray("list").push([1, 2, 3]))), clientId: "http" }))

    const expected = (doc: Y.Doc) => doc.getText("body").toString() === "from alice. " && doc.getMap("meta").get("title") === "Doc" && doc.getArray("list").length === 3
    await until(() => expected(alice.doc) && expected(bob.doc), "both sockets converge")
    const server = new Y.Doc()
    Y.applyUpdate(server, fromBase64((await runTest(room(id).syncYjs())).updateBase64))
    expect(expected(server)).toBe(true)

    // Alice's own edit never came back to her: every update she received was authored by someone else.
    for (const update of alice.updates) {
      const { structs } = Y.decodeUpdate(update)
      expect(structs.filter((struct) => struct.id.client === alice.doc.clientID && struct.constructor.name !== "Skip")).toEqual([])
    }
    expect(bob.updates.length).toBeGreaterThanOrEqual(2)
    alice.close()
    bob.close()
  })

  it("forwards awareness to every socket, serves it over HTTP, and removes a client when its socket closes", async () => {
    const id = uniqueId("crdt-awareness")
    const alice = await connectYjs(await crdtGrant(id, "alice"))
    const bob = await connectYjs(await crdtGrant(id, "bob"))
    await Promise.all([alice.synced, bob.synced])
    alice.awareness.setLocalState({ user: "alice", cursor: { anchor: 3 } })
    await until(() => (bob.awareness.getStates().get(alice.doc.clientID) as { user?: string } | undefined)?.user === "alice", "bob sees alice's cursor")
    const read = await runTest(room(id).awareness())
    expect(read.states).toContainEqual(expect.objectContaining({ clientId: alice.doc.clientID, state: { user: "alice", cursor: { anchor: 3 }, actor: { type: "user", id: "alice" } } }))

    await runTest(room(id).awareness({ clientId: 4242, state: { user: "server-bot" } }))
    await until(() => alice.awareness.getStates().has(4242) && bob.awareness.getStates().has(4242), "both see the HTTP client")

    alice.close()
    await until(() => !bob.awareness.getStates().has(alice.doc.clientID), "alice removed from bob's view on close")
    await until(() => true, "settle")
    const after = await runTest(room(id).awareness())
    expect(after.states.map((state) => state.clientId)).not.toContain(alice.doc.clientID)

    await runTest(room(id).awareness({ clientId: 4242, state: null }))
    await until(() => !bob.awareness.getStates().has(4242), "null state removes the client")
    const stats = await runTest(room(id).documentStats())
    expect(stats.lastSeq).toBe(0)
    bob.close()
  })

  it("a read-only grant syncs the document but its writes are dropped", async () => {
    const id = uniqueId("crdt-readonly")
    const writer = new Y.Doc()
    await runTest(room(id).applyYjsUpdate({ updateBase64: toBase64(editUpdate(writer, (doc) => doc.getText("t").insert(0, "shared"))) }))
    const viewer = await connectYjs(await crdtGrant(id, "viewer", ["read"]))
    await viewer.synced
    await until(() => viewer.doc.getText("t").toString() === "shared", "viewer synced")
    viewer.doc.getText("t").insert(0, "vandal ")
    viewer.awareness.setLocalState({ user: "viewer" })
    const editor = await connectYjs(await crdtGrant(id, "editor"))
    await editor.synced
    await until(() => editor.doc.getText("t").toString() === "shared", "editor synced")
    const stats = await runTest(room(id).documentStats())
    expect(stats.lastSeq).toBe(1)
    expect(stats.awarenessClients).toBe(0)
    const server = new Y.Doc()
    Y.applyUpdate(server, fromBase64((await runTest(room(id).syncYjs())).updateBase64))
    expect(server.getText("t").toString()).toBe("shared")
    viewer.close()
    editor.close()
  })

  it("grants for CRDT rooms carry the y-websocket endpoint, and a grant for another room is refused", async () => {
    const id = uniqueId("crdt-grant")
    const grant = await crdtGrant(id, "alice")
    expect(grant.yjs.url).toBe(`/realtime/crdttest/crdt/${id}/yjs`)
    expect(grant.yjs.serverUrl + "/" + grant.yjs.roomName).toBe(grant.yjs.url)
    expect(grant.yjs.protocols[0]).toBe("durable-realtime.yjs.v1")
    const other = await crdtGrant(uniqueId("crdt-other"), "alice")
    const { SELF } = await import("cloudflare:test")
    const refused = await SELF.fetch(`http://example.com${grant.yjs.url}`, {
      headers: { Upgrade: "websocket", "Sec-WebSocket-Protocol": other.yjs.protocols.join(", ") },
    })
    expect(refused.status).toBe(401)
    expect(refused.webSocket).toBeNull()
    const noToken = await SELF.fetch(`http://example.com${grant.yjs.url}`, { headers: { Upgrade: "websocket" } })
    expect(noToken.status).toBe(401)
  })
})
