/**
 * The store logic behind `durable-realtime/react`, without a DOM: message merging, presence
 * throttling, shared stores under Strict Mode's mount/unmount/mount, rooms against the real server
 * (history then live, discontinuity reset, members and throttled presence), table rows, and a
 * server render that opens nothing.
 */
import { SELF } from "cloudflare:test"
import { createElement } from "react"
import { renderToString } from "react-dom/server"
import { describe, expect, it } from "vitest"
import { ConnectFailed, type Connector, type SocketLike, type Timers } from "../src/client/index.js"
import {
  createRealtimeClient,
  emptyMessageList,
  mergeMessages,
  RealtimeProvider,
  RoomProvider,
  roomStoreOf,
  tableStoreOf,
  throttlePatches,
  useMessages,
  useMyPresence,
  useRoom,
  type GrantFetcher,
  type HistoryLoader,
  type TypedMessage,
} from "../src/react/index.js"
import { post, postsGrant, testDb } from "./db-helpers.js"
import { runTest, service, uniqueId } from "./helpers.js"
import { eventually } from "./live-helpers.js"

const live = () => service("live")

/** Sockets through the test Worker, counting the frames each sends by type. */
const testConnector = () => {
  const sent: Array<string> = []
  let connects = 0
  const connector: Connector = async (url, protocols) => {
    connects++
    const response = await SELF.fetch(url.replace(/^ws/, "http"), { headers: { Upgrade: "websocket", "Sec-WebSocket-Protocol": protocols.join(", ") } })
    const socket = response.webSocket
    if (socket === null) throw new ConnectFailed(response.status, await response.text())
    socket.accept()
    const send = socket.send.bind(socket)
    socket.send = (data: string | ArrayBuffer | ArrayBufferView) => {
      if (typeof data === "string") sent.push((JSON.parse(data) as { type: string }).type)
      send(data)
    }
    return socket as unknown as SocketLike
  }
  return { connector, sent, connects: () => connects }
}

const grantsFor = (actorId: string): GrantFetcher =>
  ((kind: string, id: string, options: { filters?: Record<string, unknown> }) => {
    if (kind === "table") return postsGrant(options.filters ?? {})
    const handle = kind === "room" ? live().room(id) : live().channel(id)
    return runTest(handle.authorize({ actor: { type: "user", id: actorId }, ttlSeconds: 60 }))
  }) as GrantFetcher

const history: HistoryLoader = (kind, id, query) =>
  runTest((kind === "room" ? live().room(id) : live().channel(id)).history({ limit: query.limit, cursor: query.cursor, direction: "backward" })).then((page) => ({
    ...page,
    messages: [...page.messages].reverse(),
  }))

const message = (seq: number, epoch = "e1"): TypedMessage<number> => ({ id: `m${seq}`, seq, epoch, type: "n", data: seq, actor: { type: "user", id: "a" }, createdAt: "2026-01-01T00:00:00.000Z" })

/** Timers driven by hand. */
const manualTimers = () => {
  let now = 0
  const due: Array<{ at: number; callback: () => void; handle: number }> = []
  let next = 0
  const timers: Timers = {
    now: () => now,
    setTimeout: (callback, ms) => {
      const handle = ++next
      due.push({ at: now + ms, callback, handle })
      return handle
    },
    clearTimeout: (handle) => {
      const index = due.findIndex((entry) => entry.handle === handle)
      if (index >= 0) due.splice(index, 1)
    },
  }
  const advance = (ms: number) => {
    now += ms
    for (const entry of due.filter((entry) => entry.at <= now).sort((a, b) => a.at - b.at)) {
      due.splice(due.indexOf(entry), 1)
      entry.callback()
    }
  }
  return { timers, advance }
}

describe("react stores: pure logic", () => {
  it("merges history and live messages by (epoch, seq): each once, ascending, other epochs left out", () => {
    let list = mergeMessages(emptyMessageList<number>(), [message(3), message(1)], "e1")
    list = mergeMessages(list, [message(2), message(3), message(4, "old")])
    const same = mergeMessages(list, [message(1)])
    expect(same).toBe(list)
    expect(list.messages.map((m) => m.seq)).toEqual([1, 2, 3])
    expect(list.epoch).toBe("e1")
  })

  it("throttles presence: the first patch at once, a burst merged into one trailing frame with the last values", () => {
    const { timers, advance } = manualTimers()
    const sent: Array<Record<string, unknown>> = []
    const throttle = throttlePatches((patch) => sent.push(patch), 50, timers)
    for (let x = 0; x < 20; x++) {
      throttle.push({ cursor: { x } })
      advance(2)
    }
    throttle.push({ typing: true })
    expect(sent).toEqual([{ cursor: { x: 0 } }])
    advance(50)
    expect(sent).toEqual([{ cursor: { x: 0 } }, { cursor: { x: 19 }, typing: true }])
    advance(500)
    expect(sent).toHaveLength(2)
  })

  it("a shared store survives Strict Mode's retain → release → retain with one start, and stops after the last release", () => {
    const { timers, advance } = manualTimers()
    const client = createRealtimeClient({ grant: (() => Promise.reject(new Error("unused"))) as GrantFetcher, timers })
    const calls: Array<string> = []
    const store = { start: () => calls.push("start"), stop: () => calls.push("stop") }
    expect(client.store("room:a", () => store)).toBe(store)
    const release = client.retain("room:a", store)
    release()
    const releaseAgain = client.retain("room:a", store)
    advance(10)
    expect(calls).toEqual(["start"])
    expect(client.active()).toEqual(["room:a"])
    releaseAgain()
    releaseAgain()
    advance(1)
    expect(calls).toEqual(["start", "stop"])
    expect(client.active()).toEqual([])
  })
})

describe("react stores against the server", () => {
  it("a room store shows history then live messages, and clears and reloads on a discontinuity", async () => {
    const roomId = uniqueId("react-room")
    for (let i = 1; i <= 3; i++) await runTest(live().room(roomId).publish({ type: "n", data: i }))
    const snapshot = await runTest(live().room(roomId).snapshot({}))
    for (let i = 4; i <= 5; i++) await runTest(live().room(roomId).publish({ type: "n", data: i }))
    const { connector } = testConnector()
    const client = createRealtimeClient({ grant: grantsFor("ada"), history, connect: connector, baseUrl: "http://example.com" })
    const { key, store } = roomStoreOf<{ typing?: boolean }, number>(client, "room", roomId)
    store.wantHistory(4)
    const release = client.retain(key, store)
    await eventually(() => (store.messages.get().messages.length === 4 ? true : undefined), 4000, "history page")
    expect(store.messages.get().messages.map((m) => m.data)).toEqual([2, 3, 4, 5])
    expect(store.messages.get().olderCursor).toEqual(expect.any(String))
    await store.loadOlder()
    expect(store.messages.get().messages.map((m) => m.data)).toEqual([1, 2, 3, 4, 5])

    const { message: sent } = await store.publish({ type: "n", data: 6 })
    expect(sent.seq).toBe(6)
    await runTest(live().room(roomId).publish({ type: "n", data: 7 }))
    await eventually(() => (store.messages.get().messages.length === 7 ? true : undefined), 4000, "live messages")
    expect(store.messages.get().messages.map((m) => m.data)).toEqual([1, 2, 3, 4, 5, 6, 7])

    // Restoring the snapshot starts a new epoch: the list starts over with the restored history.
    await runTest(live().room(roomId).restore({ snapshotId: snapshot.id }))
    await eventually(() => (store.messages.get().resets === 1 && store.messages.get().messages.length === 3 ? true : undefined), 4000, "reset")
    expect(store.messages.get().messages.map((m) => m.data)).toEqual([1, 2, 3])
    expect(store.status.get().state).toBe("live")
    release()
    await eventually(() => (store.status.get().state === "closed" ? true : undefined), 2000, "closed")
  })

  it("members, others and presence: a burst of cursor moves arrives as the last position, in few frames", async () => {
    const roomId = uniqueId("react-members")
    const ada = testConnector()
    const bob = testConnector()
    const adaClient = createRealtimeClient({ grant: grantsFor("ada"), connect: ada.connector, baseUrl: "http://example.com", presenceThrottleMs: 100 })
    const bobClient = createRealtimeClient({ grant: grantsFor("bob"), connect: bob.connector, baseUrl: "http://example.com" })
    const adaRoom = roomStoreOf<{ cursor?: { x: number; y: number } }, unknown>(adaClient, "room", roomId, { cursor: { x: 0, y: 0 } })
    const bobRoom = roomStoreOf<{ cursor?: { x: number; y: number } }, unknown>(bobClient, "room", roomId)
    const releases = [adaClient.retain(adaRoom.key, adaRoom.store), bobClient.retain(bobRoom.key, bobRoom.store)]
    await eventually(() => (bobRoom.store.members.get().length === 2 && adaRoom.store.status.get().state === "live" ? true : undefined), 4000, "both members")
    await eventually(() => bobRoom.store.members.get().find((m) => m.actor.id === "ada" && m.presence.cursor?.x === 0), 4000, "initial presence")
    for (let x = 1; x <= 30; x++) adaRoom.store.updatePresence({ cursor: { x, y: x } })
    expect(adaRoom.store.presence.get()).toEqual({ cursor: { x: 30, y: 30 } })
    await eventually(() => bobRoom.store.members.get().find((m) => m.actor.id === "ada" && m.presence.cursor?.x === 30), 4000, "last cursor")
    // One frame for the initial presence, one at once for the burst, one trailing.
    expect(ada.sent.filter((type) => type === "presence").length).toBeLessThanOrEqual(3)
    expect(bobRoom.store.status.get().actor?.id).toBe("bob")
    for (const release of releases) release()
    await eventually(() => (adaRoom.store.status.get().state === "closed" && bobRoom.store.status.get().state === "closed" ? true : undefined), 2000, "closed")
    expect(ada.connects()).toBe(1)
  })

  it("a table store holds the snapshot rows and applies inserts, updates and deletes by key", async () => {
    const tenant = uniqueId("react-t")
    await testDb.table("posts").insert(post(tenant, "r1"))
    const client = createRealtimeClient({ grant: grantsFor("reader"), connect: testConnector().connector, baseUrl: "http://example.com" })
    const { key, store } = tableStoreOf<{ id: string; title: string }>(client, "posts", { filters: { tenantId: tenant } })
    const release = client.retain(key, store)
    await eventually(() => (store.state.get().status === "live" ? true : undefined), 4000, "live")
    expect(store.state.get().rows.map((row) => row.id)).toEqual(["r1"])
    await testDb.table("posts").insert(post(tenant, "r2"))
    await testDb.table("posts").update({ id: "r1", tenantId: tenant }, { title: "edited" })
    await testDb.table("posts").delete({ id: "r2", tenantId: tenant })
    await eventually(() => (store.state.get().seq === 4 ? true : undefined), 4000, "three changes")
    expect(store.state.get().rows.map((row) => `${row.id}:${row.title}`)).toEqual(["r1:edited"])
    release()
  })

  it("renders on a server without connecting: the initial snapshot, no socket, no grant", () => {
    let grants = 0
    let connects = 0
    const client = createRealtimeClient({
      grant: (() => (grants++, Promise.reject(new Error("no grants on the server")))) as GrantFetcher,
      connect: () => (connects++, Promise.reject(new Error("no sockets on the server"))),
    })
    const Chat = () => {
      const room = useRoom()
      const { messages } = useMessages({ limit: 10 })
      const [presence] = useMyPresence<{ typing: boolean }>()
      return createElement("p", null, `${room.state}:${messages.length}:${String(presence.typing)}`)
    }
    const html = renderToString(createElement(RealtimeProvider, { client }, createElement(RoomProvider, { id: "ssr", initialPresence: { typing: false } }, createElement(Chat))))
    expect(html).toBe("<p>connecting:0:false</p>")
    expect(grants + connects).toBe(0)
    expect(client.active()).toEqual([])
  })
})
