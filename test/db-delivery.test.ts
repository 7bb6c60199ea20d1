/**
 * Delivery: resume with since, resync, snapshot then changes; and delivery across restarts: the shard dying between commit and drain, the hub dying mid-fan-out,
 * and every object restarting at random points while writes are in flight. Verified by seq: each
 * committed change arrives exactly once, in order, with no gap.
 */
import { abortAllDurableObjects, env, runInDurableObject } from "cloudflare:test"
import { describe, expect, it } from "vitest"
import { OUTBOX_TABLE } from "../src/db/Names.js"
import { shardOf } from "../src/db/Placement.js"
import { objectName } from "../src/internal/rpc.js"
import { eventually, openStream, post, postsGrant, sleep, streamUrl, subscribe, uid, testDb, type DbSocket } from "./db-helpers.js"

const tenantStream = async (tenant: string, extra: Record<string, string> = {}) => {
  const grant = await postsGrant({ tenantId: tenant })
  const url = `${grant.url}&${new URLSearchParams(extra).toString()}`
  return subscribe(url, grant.protocols)
}

describe("resume and snapshots", () => {
  it("a client that reconnects with since gets exactly what it missed from the buffer, then live changes", async () => {
    const tenant = uid("t")
    // A commit returns before the outbox drains to the hub: a witness that stays connected tells
    // when the hub holds all seven changes, so the resume below finds them in the buffer.
    const witness = await tenantStream(tenant)
    const first = await tenantStream(tenant)
    for (let i = 0; i < 3; i++) await testDb.table("posts").insert(post(tenant, `r${i}`))
    const seen = await first.waitChanges(3)
    first.close()
    for (let i = 3; i < 7; i++) await testDb.table("posts").insert(post(tenant, `r${i}`))
    await witness.waitChanges(7)
    witness.close()
    const resumed = await tenantStream(tenant, { since: String(seen[2].seq) })
    const ready = resumed.frames.find((f) => f.type === "ready")!
    expect(ready).toMatchObject({ resumed: true, replayed: 4, seq: 7 })
    // Replayed frames come before ready, in order.
    expect(resumed.frames.map((f) => (f.type === "database.change" ? f.seq : f.type))).toEqual([4, 5, 6, 7, "ready"])
    await testDb.table("posts").insert(post(tenant, "r7"))
    expect((await resumed.waitChanges(5)).map((c) => c.seq)).toEqual([4, 5, 6, 7, 8])
    resumed.close()
  })

  it("a client too far behind the buffer (or ahead of the stream) gets a resync frame, never a silent gap", async () => {
    const tenant = uid("t")
    const probe = await tenantStream(tenant)
    // bufferSize is 20 in the test database.
    await testDb.transaction(tenant, Array.from({ length: 25 }, (_, i) => ({ op: "insert" as const, table: "posts" as const, row: post(tenant, `b${i}`) })))
    await probe.waitChanges(25)
    const behind = await tenantStream(tenant, { since: "2" })
    expect(behind.frames[0]).toMatchObject({ type: "resync", reason: "behind", seq: 25 })
    expect(behind.frames.find((f) => f.type === "ready")).toMatchObject({ resumed: false, replayed: 0, seq: 25 })
    expect(behind.changes()).toHaveLength(0)
    const ahead = await tenantStream(tenant, { since: "999" })
    expect(ahead.frames[0]).toMatchObject({ type: "resync", reason: "ahead" })
    const edge = await tenantStream(tenant, { since: "5" })
    expect(edge.frames.find((f) => f.type === "ready")).toMatchObject({ resumed: true, replayed: 20 })
    for (const socket of [probe, behind, ahead, edge]) socket.close()
  })

  it("snapshot then changes: rows first (paged by cursor), ready, then only later changes", async () => {
    const tenant = uid("t")
    for (let i = 0; i < 5; i++) await testDb.table("posts").insert(post(tenant, `s${i}`))
    const socket = await tenantStream(tenant, { snapshot: "true", limit: "3" })
    const snapshot = socket.frames.find((f) => f.type === "database.snapshot")!
    expect(snapshot.rows.map((r: { id: string }) => r.id)).toEqual(["s0", "s1", "s2"])
    expect(snapshot.nextCursor).not.toBeNull()
    expect(socket.frames.map((f) => f.type)).toEqual(["database.snapshot", "ready"])
    expect(socket.frames[1]).toMatchObject({ snapshot: true })
    const more = await tenantStream(tenant, { snapshot: "true", limit: "3", cursor: snapshot.nextCursor })
    expect(more.frames[0].rows.map((r: { id: string }) => r.id)).toEqual(["s3", "s4"])
    expect(more.frames[0].nextCursor).toBeNull()
    await testDb.table("posts").update({ id: "s0", tenantId: tenant }, { title: "after snapshot" })
    const [change] = await socket.waitChanges(1)
    expect(change).toMatchObject({ event: "update", seq: 6 })
    // Public tables over several shards: the snapshot merges every shard in key order.
    const channel = uid("n")
    const ids = [3, 1, 4, 15, 9, 2, 6].map((n) => n + Math.floor(Math.random() * 1e6) * 100)
    for (const id of ids) await testDb.table("notes").insert({ id, channel, body: "b" })
    const notes = await subscribe(streamUrl("notes", { channel }, { snapshot: "1", limit: "100" }))
    expect(notes.frames[0].rows.map((r: { id: number }) => r.id)).toEqual([...ids].sort((a, b) => a - b))
    for (const s of [socket, more, notes]) s.close()
  })

  it("snapshot during concurrent writes: every row is in the snapshot or arrives as a change, never both, never neither", async () => {
    const tenant = uid("t")
    const total = 40
    const writer = (async () => {
      for (let i = 0; i < total; i++) {
        await testDb.table("posts").insert(post(tenant, `w${String(i).padStart(2, "0")}`))
        if (i % 5 === 0) await sleep(1)
      }
    })()
    await sleep(40)
    const socket = await tenantStream(tenant, { snapshot: "true", limit: "1000" })
    await writer
    const inSnapshot = new Set<string>(socket.frames.find((f) => f.type === "database.snapshot")!.rows.map((r: { id: string }) => r.id))
    const expected = total - inSnapshot.size
    const changes = await socket.waitChanges(expected)
    await sleep(150)
    const delivered = socket.changes().map((c) => c.new.id as string)
    console.log(`snapshot race figures: inSnapshot=${inSnapshot.size} delivered=${delivered.length} total=${total}`)
    expect(delivered.filter((id) => inSnapshot.has(id))).toEqual([])
    expect(new Set([...inSnapshot, ...delivered]).size).toBe(total)
    expect(delivered).toHaveLength(new Set(delivered).size)
    const seqs = changes.map((c) => c.seq)
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b))
    socket.close()
  })

  it("a burst larger than one drain round (two 100-write transactions) is delivered in full, in order", async () => {
    const tenant = uid("t")
    const socket = await tenantStream(tenant)
    const batch = (from: number) => Array.from({ length: 100 }, (_, i) => ({ op: "insert" as const, table: "posts" as const, row: post(tenant, `burst${String(from + i).padStart(3, "0")}`) }))
    await Promise.all([testDb.transaction(tenant, batch(0)), testDb.transaction(tenant, batch(100))])
    const changes = await socket.waitChanges(200, 8000)
    expect(changes.map((c) => c.seq)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1))
    expect(new Set(changes.map((c) => c.new.id)).size).toBe(200)
    const outbox = (await testDb.outbox(changes[0].shard)) as { pending: number }
    expect(outbox.pending).toBe(0)
    socket.close()
  })
})

const bindings = env as unknown as { REALTIME_DB_SHARDS: DurableObjectNamespace; REALTIME_TABLE_HUBS: DurableObjectNamespace }
const shardStub = (n: number) => bindings.REALTIME_DB_SHARDS.get(bindings.REALTIME_DB_SHARDS.idFromName(objectName("default/dbtest", "dbShard", `shard-${n}`)))
const hubStub = (tenant: string) =>
  bindings.REALTIME_TABLE_HUBS.get(bindings.REALTIME_TABLE_HUBS.idFromName(objectName("default/dbtest", "tableHub", JSON.stringify(["posts", { tenantId: tenant }]))))

/**
 * A subscriber that reconnects with `since=<last seq>` whenever its socket closes, recording
 * every change by seq (a second copy of a seq is a duplicate).
 */
const resilientSubscriber = async (tenant: string) => {
  const grant = await postsGrant({ tenantId: tenant }, { ttlSeconds: 600 })
  const bySeq = new Map<number, { id: string; event: string }>()
  let duplicates = 0
  let reconnects = 0
  let resyncs = 0
  let stopped = false
  let current: DbSocket | undefined
  const lastSeq = () => (bySeq.size === 0 ? 0 : Math.max(...bySeq.keys()))
  const connect = async (): Promise<void> => {
    while (!stopped) {
      const { socket } = await openStream(`${grant.url}&since=${lastSeq()}`, grant.protocols).catch(() => ({ socket: undefined }))
      if (socket === undefined) {
        await sleep(20)
        continue
      }
      current = socket
      let seen = 0
      const drain = () => {
        for (const frame of socket.frames.slice(seen)) {
          if (frame.type === "resync") resyncs++
          if (frame.type !== "database.change") continue
          if (bySeq.has(frame.seq)) duplicates++
          else bySeq.set(frame.seq, { id: frame.new?.id ?? frame.old?.id, event: frame.event })
        }
        seen = socket.frames.length
      }
      const timer = setInterval(drain, 5)
      await socket.closed
      clearInterval(timer)
      drain()
      if (stopped) return
      reconnects++
    }
  }
  const running = connect()
  return {
    bySeq,
    lastSeq,
    figures: () => ({ duplicates, reconnects, resyncs }),
    stop: async () => {
      stopped = true
      current?.close()
      await running
    },
  }
}

describe("delivery across restarts", () => {
  it("the shard dies between commit and drain: the committed change is delivered once, by the retry path", async () => {
    const tenant = uid("t")
    const grant = await postsGrant({ tenantId: tenant })
    const { socket } = await openStream(grant.url, grant.protocols)
    await socket!.waitFor((f) => f.type === "ready")
    await testDb.table("posts").insert(post(tenant, "before"))
    await socket!.waitChanges(1)
    const n = shardOf(tenant, 3)
    let pendingAtAbort = -1
    await runInDurableObject(shardStub(n), async (instance, state) => {
      await (instance as unknown as { invoke(request: unknown): Promise<unknown> }).invoke({
        address: { instance: "default/dbtest", id: `shard-${n}` },
        op: "write",
        input: { writes: [{ op: "insert", table: "posts", row: post(tenant, "crash") }] },
      })
      // Make the commit durable (what the caller's acknowledgement waits for), then die before the drain is acknowledged.
      await state.storage.sync()
      pendingAtAbort = state.storage.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM ${OUTBOX_TABLE} WHERE published_at IS NULL`).one().n
      state.abort("test: die after commit")
    }).catch(() => undefined)
    expect(pendingAtAbort).toBe(1)
    // The row committed; the durable alarm (or the next wake) drains it to the hub.
    const changes = await socket!.waitChanges(2, 8000)
    expect(changes.map((c) => [c.seq, c.new.id])).toEqual([[1, "before"], [2, "crash"]])
    await testDb.table("posts").insert(post(tenant, "after"))
    await socket!.waitChanges(3)
    await sleep(100)
    expect(socket!.changes().map((c) => c.seq)).toEqual([1, 2, 3])
    const outbox = (await testDb.outbox(n)) as { pending: number }
    expect(outbox.pending).toBe(0)
    socket!.close()
  })

  it("the hub dies mid-fan-out: subscribers resume with since and nothing is lost, doubled or reordered", async () => {
    const tenant = uid("t")
    const subscribers = await Promise.all([0, 1, 2].map(() => resilientSubscriber(tenant)))
    await eventually(() => (subscribers.every((s) => s.lastSeq() === 0) ? true : undefined))
    await sleep(50)
    const total = 30
    const writes = (async () => {
      for (let i = 0; i < total; i++) await testDb.table("posts").insert(post(tenant, `h${String(i).padStart(2, "0")}`))
    })()
    await eventually(() => (subscribers[0].lastSeq() >= 8 ? true : undefined), 5000, "some changes before the abort")
    await runInDurableObject(hubStub(tenant), (_instance, state) => {
      try {
        state.abort("test: hub dies mid-fan-out")
      } catch {
        // expected
      }
    }).catch(() => undefined)
    await writes
    await eventually(() => (subscribers.every((s) => s.lastSeq() === total) ? true : undefined), 8000, "every subscriber caught up")
    await sleep(100)
    for (const subscriber of subscribers) {
      const seqs = [...subscriber.bySeq.keys()].sort((a, b) => a - b)
      expect(seqs).toEqual(Array.from({ length: total }, (_, i) => i + 1))
      expect([...subscriber.bySeq.values()].map((c) => c.id).sort()).toEqual(Array.from({ length: total }, (_, i) => `h${String(i).padStart(2, "0")}`))
      expect(subscriber.figures().duplicates).toBe(0)
      expect(subscriber.figures().resyncs).toBe(0)
    }
    console.log(`hub abort figures: reconnects=${subscribers.map((s) => s.figures().reconnects).join(",")} delivered=${subscribers.map((s) => s.bySeq.size).join(",")}`)
    expect(subscribers.some((s) => s.figures().reconnects > 0)).toBe(true)
    await Promise.all(subscribers.map((s) => s.stop()))
  })

  it("every object restarts at random points during writes: each committed row arrives exactly once, seq without gaps", async () => {
    const tenant = uid("t")
    const subscriber = await resilientSubscriber(tenant)
    await sleep(50)
    const rounds = 10
    const perRound = 6
    let restarts = 0
    let failedCalls = 0
    /** Insert until it is known to have committed (a lost answer is checked with get, not retried blindly). */
    const insertUntilCommitted = async (id: string) => {
      for (let attempt = 0; attempt < 30; attempt++) {
        try {
          await testDb.table("posts").insert(post(tenant, id))
          return
        } catch (error) {
          failedCalls++
          if ((error as { _tag?: string })._tag === "ConstraintViolation") return
          const existing = await testDb.table("posts").get({ id, tenantId: tenant }).catch(() => null)
          if (existing !== null) return
          await sleep(10)
        }
      }
      throw new Error(`insert ${id} never committed`)
    }
    for (let round = 0; round < rounds; round++) {
      const ids = Array.from({ length: perRound }, (_, i) => `q${round}-${i}`)
      const inFlight = Promise.all(ids.map(insertUntilCommitted))
      await sleep(Math.floor(Math.random() * 6))
      await abortAllDurableObjects()
      restarts++
      await inFlight
      // Catch up before the next round, so the buffer (20) always reaches back far enough.
      await eventually(() => (subscriber.bySeq.size >= (round + 1) * perRound ? true : undefined), 10_000, `round ${round} delivered`)
    }
    const committed = (await testDb.table("posts").select({ where: { tenantId: tenant }, limit: 1000 })).rows.map((r) => r.id).sort()
    await sleep(200)
    const seqs = [...subscriber.bySeq.keys()].sort((a, b) => a - b)
    const delivered = [...subscriber.bySeq.values()].map((c) => c.id).sort()
    const figures = subscriber.figures()
    console.log(`db restart figures: restarts=${restarts} committed=${committed.length} delivered=${delivered.length} failedCalls=${failedCalls} reconnects=${figures.reconnects} duplicates=${figures.duplicates} resyncs=${figures.resyncs}`)
    expect(committed).toHaveLength(rounds * perRound)
    expect(delivered).toEqual(committed)
    expect(seqs).toEqual(Array.from({ length: committed.length }, (_, i) => i + 1))
    expect(figures.duplicates).toBe(0)
    expect(figures.resyncs).toBe(0)
    await subscriber.stop()
  })
})
