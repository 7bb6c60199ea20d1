/**
 * R6 — presence cleanup: members whose sockets vanish without a close frame (the object was
 * reset) are gone by twice the TTL, over 25 resets; awareness does not outlive its socket.
 */
import { abortAllDurableObjects, runDurableObjectAlarm } from "cloudflare:test"
import { describe, expect, it } from "vitest"
import * as Y from "yjs"
import { runTest, uniqueId } from "./helpers.js"
import { connect, liveService, roomGrant, sleep, stubFor } from "./live-helpers.js"
import { connectYjs, crdtGrant, crdtService } from "./crdt-helpers.js"

const TTL_MS = 1000 // the livetest instance's presenceTtlMs

describe("R6: presence cleanup", () => {
  it("25 resets with socket members connected leave no ghost member after twice the TTL", async () => {
    const roomId = uniqueId("ghosts")
    const room = liveService().room(roomId)
    let joinedBeforeReset = 0
    for (let reset = 0; reset < 25; reset++) {
      const socket = await connect(await roomGrant(roomId, `user-${reset % 3}`))
      if ((await runTest(room.members())).members.some((member) => member.actor.id === `user-${reset % 3}`)) joinedBeforeReset++
      await abortAllDurableObjects()
      await socket.closed.catch(() => undefined)
    }
    // The room notices the vanished sockets when it next wakes (here: this read) and gives their
    // members the TTL to come back, as it does after a deploy when every client reconnects.
    const orphansOnWake = (await runTest(room.members())).members.filter((member) => member.expiresAt !== null).length
    await sleep(TTL_MS * 2)
    // The expiry job runs on the alarm; the test runs it rather than waiting for the scheduler.
    await runDurableObjectAlarm(stubFor("livetest", "room", roomId))
    const ghosts = (await runTest(room.members())).members.length
    console.log(`R6 figures: resets=25 joinedBeforeReset=${joinedBeforeReset} orphansOnWake=${orphansOnWake} ghostsAfter2xTTL=${ghosts}`)
    expect(joinedBeforeReset).toBe(25)
    expect(ghosts).toBe(0)
  })

  it("a member that reconnects within the grace period stays a member", async () => {
    const roomId = uniqueId("regrace")
    const room = liveService().room(roomId)
    await connect(await roomGrant(roomId, "carol"))
    await abortAllDurableObjects()
    const again = await connect(await roomGrant(roomId, "carol"))
    await sleep(TTL_MS * 2)
    await runDurableObjectAlarm(stubFor("livetest", "room", roomId))
    const members = (await runTest(room.members())).members
    expect(members.map((member) => member.actor.id)).toEqual(["carol"])
    expect(members[0]!.via).toBe("socket")
    again.close()
  })

  it("awareness of a reset room is gone, and another connection cannot take over a client id", async () => {
    const id = uniqueId("awareness-ghost")
    const alice = await connectYjs(await crdtGrant(id, "alice"))
    await alice.synced
    alice.awareness.setLocalState({ user: "alice" })
    const mallory = await connectYjs(await crdtGrant(id, "mallory"), { doc: new Y.Doc() })
    await mallory.synced
    await sleep(100)
    // Mallory claims Alice's client id with a higher clock: refused, Alice's state stays.
    const forged = new Y.Doc()
    forged.clientID = alice.doc.clientID
    const { Awareness, encodeAwarenessUpdate } = await import("y-protocols/awareness")
    const forger = new Awareness(forged)
    forger.setLocalState({ user: "mallory pretending" })
    forger.setLocalState({ user: "mallory pretending", again: true })
    const encoding = await import("lib0/encoding")
    const encoder = encoding.createEncoder()
    encoding.writeVarUint(encoder, 1)
    encoding.writeVarUint8Array(encoder, encodeAwarenessUpdate(forger, [forged.clientID]))
    mallory.sendRaw(encoding.toUint8Array(encoder))
    forger.destroy()
    await sleep(200)
    const states = (await runTest(crdtService().crdtRoom(id).awareness())).states
    // (The server stamps the announcing actor into what others see.)
    expect(states.find((state) => state.clientId === alice.doc.clientID)?.state).toEqual({ user: "alice", actor: { type: "user", id: "alice" } })

    await abortAllDurableObjects()
    await alice.closed
    expect((await runTest(crdtService().crdtRoom(id).awareness())).states).toEqual([])
  })
})
