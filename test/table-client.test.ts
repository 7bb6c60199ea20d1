/**
 * `subscribeTable` against the real change stream in workerd: snapshot then changes, resume after
 * a drop, grant refresh before expiry and after a 4001 close, and resynchronisation on a gap.
 */
import { SELF } from "cloudflare:test"
import { describe, expect, it } from "vitest"
import { ConnectFailed, subscribeTable, type Connector, type SocketLike, type TableChange, type TableGrant, type TableSnapshot, type TableStatus } from "../src/client/index.js"
import { eventually, post, postsGrant, testDb, uid } from "./db-helpers.js"

type Post = { id: string; tenantId: string; title: string }

/** Sockets through the test Worker; `hold()` makes connects wait until `release()`. */
const testConnector = () => {
  const sockets: Array<WebSocket> = []
  const urls: Array<string> = []
  let gate: Promise<void> | undefined
  let open: () => void = () => undefined
  const connector: Connector = async (url, protocols) => {
    if (gate !== undefined) await gate
    urls.push(url)
    const response = await SELF.fetch(url.replace(/^ws/, "http"), { headers: { Upgrade: "websocket", "Sec-WebSocket-Protocol": protocols.join(", ") } })
    const socket = response.webSocket
    if (socket === null) throw new ConnectFailed(response.status, await response.text())
    socket.accept()
    sockets.push(socket)
    return socket as unknown as SocketLike
  }
  return {
    connector,
    sockets,
    urls,
    hold: () => (gate = new Promise((resolve) => (open = resolve))),
    release: () => {
      gate = undefined
      open()
    },
  }
}

const fastBackoff = { initialMs: 10, maxMs: 50, jitter: 0.5 }

/** A collector of everything a subscription reports. */
const collect = () => {
  const changes: Array<TableChange<Post>> = []
  const snapshots: Array<TableSnapshot<Post>> = []
  const statuses: Array<{ status: TableStatus; error?: string }> = []
  const gaps: Array<{ reason: string; seq: number }> = []
  const rows = new Map<string, Post>()
  return {
    changes,
    snapshots,
    statuses,
    gaps,
    rows,
    onChange: (change: TableChange<Post>) => {
      changes.push(change)
      if (change.new === null) rows.delete(change.old!.id)
      else rows.set(change.new.id, change.new)
    },
    onSnapshot: (snapshot: TableSnapshot<Post>) => {
      snapshots.push(snapshot)
      rows.clear()
      for (const row of snapshot.rows) rows.set(row.id, row)
    },
    onStatus: (status: TableStatus, error?: { _tag: string }) => statuses.push({ status, ...(error ? { error: error._tag } : {}) }),
    onGap: (gap: { reason: string; seq: number }) => gaps.push(gap),
  }
}

const seqs = (changes: ReadonlyArray<TableChange<Post>>) => changes.map((change) => change.seq)
const increasing = (values: ReadonlyArray<number>) => values.every((value, i) => i === 0 || value > values[i - 1])

describe("subscribeTable", () => {
  it("delivers the snapshot, then each change once and in order; after a dropped socket it resumes from the last seq", async () => {
    const tenant = uid("tc")
    const posts = testDb.table("posts")
    await posts.insert(post(tenant, "a"))
    await posts.insert(post(tenant, "b"))
    const { connector, sockets, urls } = testConnector()
    const seen = collect()
    let grants = 0
    const stream = subscribeTable<Post>({
      grant: () => (grants++, postsGrant({ tenantId: tenant })),
      baseUrl: "http://example.com",
      connect: connector,
      backoff: fastBackoff,
      ...seen,
    })
    await eventually(() => (stream.status() === "live" ? true : undefined), 4000, "live")
    expect(seen.snapshots).toHaveLength(1)
    expect(seen.snapshots[0].reason).toBe("initial")
    expect([...seen.rows.keys()].sort()).toEqual(["a", "b"])
    expect(urls[0]).toContain("snapshot=true")

    await posts.insert(post(tenant, "c"))
    await posts.update({ id: "a", tenantId: tenant }, { title: "A, edited" })
    await eventually(() => (seen.changes.length === 2 ? true : undefined), 4000, "2 changes")

    // Drop the socket and write while the client is away: it resumes with since=<last seq>.
    const before = stream.seq()
    expect(before).toBe(seen.changes[1].seq)
    sockets[0].close(4000, "test drop")
    await posts.delete({ id: "b", tenantId: tenant })
    await posts.insert(post(tenant, "d"))
    await eventually(() => (seen.changes.length >= 4 && stream.status() === "live" ? true : undefined), 5000, "resume")
    await posts.update({ id: "d", tenantId: tenant }, { title: "D, edited" })
    await eventually(() => (seen.changes.length >= 5 ? true : undefined), 4000, "live after resume")
    await new Promise((resolve) => setTimeout(resolve, 100))

    expect(seen.changes.map((change) => `${change.event}:${(change.new ?? change.old)!.id}`)).toEqual(["insert:c", "update:a", "delete:b", "insert:d", "update:d"])
    expect(increasing(seqs(seen.changes))).toBe(true)
    expect(urls[1]).toMatch(new RegExp(`since=${before}(&|$)`))
    expect(grants).toBeGreaterThanOrEqual(2)
    expect(seen.statuses.map((entry) => entry.status)).toContain("reconnecting")
    expect([...seen.rows.values()].map((row) => row.title).sort()).toEqual(["A, edited", "D, edited", "Title c"])
    expect(seen.snapshots).toHaveLength(1)
    stream.close()
    expect(stream.status()).toBe("closed")
  })

  it("fetches a fresh grant before the current one expires, and after the server closes with 4001", async () => {
    const tenant = uid("te")
    const posts = testDb.table("posts")
    // Refresh 1.5 s before a 2 s grant expires: a new grant (and socket) about every half second.
    const early = testConnector()
    const earlyGrants: Array<TableGrant> = []
    const refreshing = subscribeTable<Post>({
      grant: async () => {
        const grant = await postsGrant({ tenantId: tenant }, { ttlSeconds: 2 })
        earlyGrants.push(grant)
        return grant
      },
      refreshBeforeMs: 1_500,
      baseUrl: "http://example.com",
      connect: early.connector,
      backoff: fastBackoff,
      onChange: () => undefined,
    })
    await eventually(() => (earlyGrants.length >= 2 && refreshing.status() === "live" ? true : undefined), 5000, "refresh before expiry")
    expect(new Set(earlyGrants.map((grant) => grant.protocols[1])).size).toBe(earlyGrants.length)
    refreshing.close()

    // No early refresh: the hub closes the socket with 4001 when the grant expires, and the client
    // comes back with a new grant, resuming without losing or repeating a change.
    const late = testConnector()
    const seen = collect()
    let grants = 0
    const stream = subscribeTable<Post>({
      grant: () => (grants++, postsGrant({ tenantId: tenant }, { ttlSeconds: 1 })),
      refreshBeforeMs: -60_000,
      baseUrl: "http://example.com",
      connect: late.connector,
      backoff: fastBackoff,
      onChange: seen.onChange,
      onStatus: seen.onStatus,
    })
    await eventually(() => (stream.status() === "live" ? true : undefined), 4000, "live")
    await posts.insert(post(tenant, "x1"))
    await eventually(() => (seen.changes.length === 1 ? true : undefined), 4000, "first change")
    await eventually(() => (seen.statuses.some((entry) => entry.error === "Unauthorized") ? true : undefined), 6000, "4001 close")
    await eventually(() => (stream.status() === "live" && grants >= 2 ? true : undefined), 4000, "back with a new grant")
    await posts.insert(post(tenant, "x2"))
    await eventually(() => (seen.changes.length >= 2 ? true : undefined), 4000, "change after the new grant")
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(seen.changes.map((change) => change.new!.id)).toEqual(["x1", "x2"])
    expect(late.urls.at(-1)).toMatch(/since=\d+/)
    stream.close()
  })

  it("on a gap larger than the hub's buffer: a new snapshot with onSnapshot, else onGap and on from the current seq", async () => {
    const tenant = uid("tg")
    const posts = testDb.table("posts")
    const withSnapshot = testConnector()
    const plain = testConnector()
    const snap = collect()
    const bare = collect()
    const options = { baseUrl: "http://example.com", backoff: fastBackoff, grant: () => postsGrant({ tenantId: tenant }) }
    const resyncing = subscribeTable<Post>({ ...options, connect: withSnapshot.connector, ...snap })
    const continuing = subscribeTable<Post>({ ...options, connect: plain.connector, onChange: bare.onChange, onGap: bare.onGap, onStatus: bare.onStatus })
    // An observer that stays connected, to know when every change reached the hub.
    const observer = collect()
    const watching = subscribeTable<Post>({ ...options, connect: testConnector().connector, onChange: observer.onChange })
    await eventually(() => (resyncing.status() === "live" && continuing.status() === "live" && watching.status() === "live" ? true : undefined), 4000, "live")
    await posts.insert(post(tenant, "first"))
    await eventually(() => (snap.changes.length === 1 && bare.changes.length === 1 ? true : undefined), 4000, "first change")

    // Both go away; 25 changes pass (the test hub buffers 20); then they come back.
    withSnapshot.hold()
    plain.hold()
    withSnapshot.sockets[0].close(4000, "test drop")
    plain.sockets[0].close(4000, "test drop")
    for (let i = 0; i < 25; i++) await posts.insert(post(tenant, `n${i}`))
    await eventually(() => (observer.changes.length === 26 ? true : undefined), 8000, "26 changes at the hub")
    withSnapshot.release()
    plain.release()

    await eventually(() => (snap.snapshots.length === 2 && resyncing.status() === "live" ? true : undefined), 5000, "resynchronised with a snapshot")
    expect(snap.snapshots[1].reason).toBe("resync")
    expect(snap.gaps).toEqual([expect.objectContaining({ reason: "behind" })])
    expect(snap.rows.size).toBe(26)
    await eventually(() => (bare.gaps.length === 1 && continuing.status() === "live" ? true : undefined), 5000, "gap reported")
    expect(bare.gaps[0]).toMatchObject({ reason: "behind", seq: observer.changes.at(-1)!.seq })

    // Both continue with the next change, once each.
    await posts.insert(post(tenant, "after"))
    await eventually(() => (snap.changes.length === 2 && bare.changes.length === 2 ? true : undefined), 4000, "change after the gap")
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(snap.changes.map((change) => change.new!.id)).toEqual(["first", "after"])
    expect(bare.changes.map((change) => change.new!.id)).toEqual(["first", "after"])
    expect(snap.rows.has("after") && snap.rows.size === 27).toBe(true)
    for (const stream of [resyncing, continuing, watching]) stream.close()
  })

  it("stops for good when the subscription is refused as asked (403), without retrying", async () => {
    let attempts = 0
    const statuses: Array<TableStatus> = []
    const stream = subscribeTable({
      grant: { url: "/realtime-db?namespace=default&database=dbtest&table=posts", protocols: [] },
      baseUrl: "http://example.com",
      connect: async () => {
        attempts++
        throw new ConnectFailed(403, "forbidden")
      },
      backoff: fastBackoff,
      onChange: () => undefined,
      onStatus: (status) => statuses.push(status),
    })
    await eventually(() => (stream.status() === "closed" ? true : undefined), 2000, "closed")
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(attempts).toBe(1)
    expect(statuses).toEqual(["closed"])
  })

  it("reads seed-003 shapes: an absolute wss:// URL, an ISO expiresAt, key objects and shard names; a replayed change is dropped", async () => {
    const opened: Array<string> = []
    const listeners: Array<(event: { data: unknown }) => void> = []
    const fake: Connector = async (url) => {
      opened.push(url)
      return {
        send: () => undefined,
        close: () => undefined,
        addEventListener: (type: string, listener: (event: never) => void) => {
          if (type === "message") listeners.push(listener as never)
        },
      } as SocketLike
    }
    const changes: Array<TableChange> = []
    const expiresAt = new Date(Date.now() + 600_000).toISOString()
    const stream = subscribeTable({
      grant: async () => ({ url: "wss://api.example.com/__realtime?namespace=default&database=main&table=posts", protocols: ["p.realtime.v1", "p.jwt.t"], expiresAt }),
      connect: fake,
      onChange: (change) => changes.push(change),
    })
    await eventually(() => (listeners.length === 1 ? true : undefined), 2000, "connected")
    const change = (seq: number) =>
      JSON.stringify({ type: "database.change", seq, namespace: "default", database: "main", table: "posts", event: "insert", key: { id: `p${seq}` }, old: null, new: { id: `p${seq}` }, shard: "DB_SHARD_0000", requestId: "r", createdAt: "2026-05-25T00:00:00.000Z" })
    listeners[0]({ data: JSON.stringify({ type: "ready", seq: 0 }) })
    for (const seq of [1, 2, 2, 1, 3]) listeners[0]({ data: change(seq) })
    expect(stream.status()).toBe("live")
    expect(changes.map((c) => [c.seq, c.key, c.shard])).toEqual([
      [1, { id: "p1" }, "DB_SHARD_0000"],
      [2, { id: "p2" }, "DB_SHARD_0000"],
      [3, { id: "p3" }, "DB_SHARD_0000"],
    ])
    expect(opened[0].startsWith("wss://api.example.com/__realtime?")).toBe(true)
    stream.close()
  })

  it("a path-only grant URL with nowhere to resolve it (no page, no baseUrl) stops with InvalidInput instead of retrying", async () => {
    let connects = 0
    const statuses: Array<{ status: TableStatus; error?: string }> = []
    const stream = subscribeTable({
      grant: async () => ({ url: "/realtime-db?namespace=default&database=dbtest&table=notes", protocols: [] }),
      connect: async () => {
        connects++
        throw new Error("never reached")
      },
      onChange: () => undefined,
      onStatus: (status, error) => statuses.push({ status, ...(error ? { error: `${error._tag}:${(error as { field?: string }).field}` } : {}) }),
    })
    await eventually(() => (stream.status() === "closed" ? true : undefined), 2000, "closed")
    expect(connects).toBe(0)
    expect(statuses).toEqual([{ status: "closed", error: "InvalidInput:baseUrl" }])
  })

  it("a live gap marker (resync reason gap, a parked change): onGap and on past it, or a new snapshot with onSnapshot", async () => {
    const fakeServer = () => {
      const opened: Array<string> = []
      const listeners: Array<(event: { data: unknown }) => void> = []
      const connect: Connector = async (url) => {
        opened.push(url)
        return {
          send: () => undefined,
          close: () => undefined,
          addEventListener: (type: string, listener: (event: never) => void) => {
            if (type === "message") listeners.push(listener as never)
          },
        } as SocketLike
      }
      const push = (frame: unknown) => listeners.at(-1)!({ data: JSON.stringify(frame) })
      return { opened, listeners, connect, push }
    }
    const change = (seq: number) => ({ type: "database.change", seq, namespace: "default", database: "main", table: "posts", event: "insert", key: { id: `p${seq}` }, old: null, new: { id: `p${seq}` }, shard: "DB_SHARD_0000", requestId: "r", createdAt: "2026-05-25T00:00:00.000Z" })
    const grant = { url: "wss://api.example.com/realtime-db?table=posts", protocols: [] }

    const plain = fakeServer()
    const seen: Array<number> = []
    const gaps: Array<{ reason: string; seq: number }> = []
    const continuing = subscribeTable({ grant, connect: plain.connect, onChange: (c) => seen.push(c.seq), onGap: (gap) => gaps.push(gap) })
    await eventually(() => (plain.listeners.length === 1 ? true : undefined), 2000, "connected")
    plain.push({ type: "ready", seq: 0 })
    for (const seq of [1, 2, 3]) plain.push(change(seq))
    plain.push({ type: "resync", reason: "gap", seq: 4, message: "a posts change could not be delivered" })
    plain.push(change(5))
    expect(seen).toEqual([1, 2, 3, 5])
    expect(gaps).toEqual([{ reason: "gap", seq: 4 }])
    expect(continuing.seq()).toBe(5)
    continuing.close()

    const snapshotting = fakeServer()
    const snapshots: Array<string> = []
    const resyncing = subscribeTable({ grant, connect: snapshotting.connect, onChange: () => undefined, onSnapshot: (snapshot) => snapshots.push(snapshot.reason) })
    await eventually(() => (snapshotting.listeners.length === 1 ? true : undefined), 2000, "connected")
    snapshotting.push({ type: "database.snapshot", table: "posts", rows: [], nextCursor: null })
    snapshotting.push({ type: "ready", seq: 3 })
    snapshotting.push({ type: "resync", reason: "gap", seq: 4, message: "parked" })
    await eventually(() => (snapshotting.listeners.length === 2 ? true : undefined), 2000, "reconnected for a snapshot")
    expect(snapshotting.opened[1]).toContain("snapshot=true")
    snapshotting.push({ type: "database.snapshot", table: "posts", rows: [{ id: "p1" }], nextCursor: null })
    snapshotting.push({ type: "ready", seq: 4 })
    expect(snapshots).toEqual(["initial", "resync"])
    expect(resyncing.seq()).toBe(4)
    resyncing.close()
  })
})
