/**
 * A shard's direct sends to its hubs (src/db/shard/DirectSend.ts `makeHubSends`): from a hub's
 * second publish on they go through an RPC session the hub hands out, never past a call in flight
 * on the stub; `pause` closes the sessions (never under a call in flight), after which a hub's next
 * publishes start over on the stub; a broken session leaves its changes to the drain (`false`) and
 * the next send makes a new stub. The hub's answer counts as an acknowledgement only when it is a
 * success of the declared shape.
 */
import { describe, expect, it } from "vitest"
import { makeStubCache, type ObjectNamespace } from "../src/internal/ObjectStubs.js"
import { makeHubSends } from "../src/db/shard/DirectSend.js"
import type { ShardChange } from "../src/db/Protocol.js"

const change = (outboxId: number): ShardChange => ({ shard: 0, outboxId, table: "posts", event: "insert", old: null, new: { id: `p${outboxId}` }, requestId: `r${outboxId}`, createdAt: 0 })

const APPLIED = { _tag: "Success", value: { applied: 1, duplicates: 0, seq: 1 } }

/** A stand-in hub namespace: every call (on a stub or a session) is logged and answered by `answer`, settling when the test says. */
const standInHubs = () => {
  const log: Array<string> = []
  const pending: Array<() => void> = []
  const state = { stubs: 0, sessions: 0, disposed: 0, answer: APPLIED as unknown, sessionBroken: false }
  const call = (channel: string, fails: () => boolean) => async (request: { input: { changes: Array<ShardChange> } }) => {
    log.push(`${channel} ${request.input.changes.map((c) => c.outboxId).join(",")}`)
    await new Promise<void>((resolve) => pending.push(resolve))
    if (fails()) throw new Error("session broken: the hub restarted")
    return state.answer
  }
  const namespace: ObjectNamespace = {
    idFromName: (name) => ({ name, toString: () => name }) as unknown as DurableObjectId,
    get: () => {
      const stub = ++state.stubs
      return {
        invoke: call(`stub${stub}`, () => false),
        session: async () => {
          const session = ++state.sessions
          return { invoke: call(`session${session}`, () => state.sessionBroken), [Symbol.dispose]: () => void state.disposed++ }
        },
      }
    },
  }
  const settle = async () => {
    while (pending.length > 0) pending.shift()!()
    await new Promise((resolve) => setTimeout(resolve, 1))
  }
  return { namespace, log, state, settle }
}

describe("a shard's direct sends to a hub", () => {
  it("go through the hub's RPC session from the second on; pause closes it, never under a call in flight; a broken session makes a new stub", async () => {
    const hubs = standInHubs()
    const sends = makeHubSends({ hubs: () => hubs.namespace, instance: "db", stubs: makeStubCache() })
    // One send at a time, as the shard's single flight makes them.
    const sendOne = async (id: number) => {
      const sent = sends.send("hub-a", [change(id)])
      await hubs.settle()
      return sent
    }
    for (const id of [1, 2, 3, 4]) expect(await sendOne(id)).toBe(true)
    expect(hubs.log).toEqual(["stub1 1", "stub1 2", "session1 3", "session1 4"])
    expect(hubs.state.sessions).toBe(1)

    // Paused with nothing in flight: closed at once; the next goes on the stub again and asks anew.
    sends.pause()
    expect(hubs.state.disposed).toBe(1)
    for (const id of [5, 6, 7]) expect(await sendOne(id)).toBe(true)
    expect(hubs.log.slice(4)).toEqual(["stub1 5", "session2 6", "session2 7"])

    // Paused while a call through the session is in flight: closed only once it landed.
    const inFlight = sends.send("hub-a", [change(8)])
    await new Promise((resolve) => setTimeout(resolve, 1))
    sends.pause()
    expect(hubs.state.disposed).toBe(1)
    await hubs.settle()
    expect(await inFlight).toBe(true)
    expect(hubs.state.disposed).toBe(2)

    // A session that broke (its hub restarted): that send is not acknowledged, and the next starts over on a new stub.
    for (const id of [9, 10]) expect(await sendOne(id)).toBe(true)
    hubs.state.sessionBroken = true
    expect(await sendOne(11)).toBe(false)
    expect(await sendOne(12)).toBe(true)
    expect(hubs.log.slice(7)).toEqual(["session2 8", "stub1 9", "session3 10", "session3 11", "stub2 12"])
    expect(hubs.state.stubs).toBe(2)
  })

  it("count only a success of the declared shape as acknowledged", async () => {
    const hubs = standInHubs()
    const sends = makeHubSends({ hubs: () => hubs.namespace, instance: "db", stubs: makeStubCache() })
    const answered = async (answer: unknown) => {
      hubs.state.answer = answer
      const sent = sends.send("hub-b", [change(1)])
      await hubs.settle()
      return sent
    }
    expect(await answered(APPLIED)).toBe(true)
    expect(await answered({ _tag: "Success", value: { applied: "1", duplicates: 0, seq: 1 } })).toBe(false)
    expect(await answered({ _tag: "Success", value: null })).toBe(false)
    expect(await answered({ _tag: "Failure", cause: { _tag: "Fail", error: { _tag: "InvalidInput", field: "after", message: "after: not applied" } } })).toBe(false)
    // No binding for the hubs: nothing is sent, the drain keeps the changes.
    const unbound = makeHubSends({ hubs: () => undefined, instance: "db", stubs: makeStubCache() })
    expect(await unbound.send("hub-b", [change(2)])).toBe(false)
  })
})
