/**
 * Delivery across restarts: the shard dying between commit and drain, the hub dying mid-fan-out,
 * and every object restarting at random points while writes are in flight. Verified by seq: each
 * committed change arrives exactly once, in order, with no gap.
 */
import { abortAllDurableObjects, env, runInDurableObject } from "cloudflare:test"
import { describe, expect, it } from "vitest"
import { OUTBOX_TABLE } from "../src/db/Names.js"
import { shardOf } from "../src/db/Placement.js"
import { objectName } from "../src/internal/rpc.js"
import { eventually, openStream, post, postsGrant, sleep, uid, testDb, type DbSocket } from "./db-helpers.js"

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
