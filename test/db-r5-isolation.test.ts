/**
 * R5 (issue 13 item 1): one tenant cannot stop change delivery for the others on its shard.
 * Drain batches are bounded in bytes, a hub that keeps failing delays only its own changes, and a
 * change that fails past its delivery attempts is parked (kept, counted, logged) and replaced in its
 * hub's stream by a `resync` frame with `reason: "gap"`. `r5Db` has one shard (every tenant shares
 * its drain) and three delivery attempts.
 */
import { env, runInDurableObject } from "cloudflare:test"
import { describe, expect, it } from "vitest"
import { objectName } from "../src/internal/rpc.js"
import { hubIdOf } from "../src/db/Placement.js"
import { databaseDefinition } from "../src/db/Declaration.js"
import { eventually, receivedAt, sleep, subscribe, uid, type DbSocket } from "./db-helpers.js"
import { r5Db } from "./db-schema.js"

const items = r5Db.table("items")

const tenantStream = async (tenantId: string): Promise<DbSocket> => {
  const grant = await r5Db.realtime.authorize({ table: "items", filters: { tenantId }, actor: { type: "user", id: `reader-${tenantId}` } })
  return subscribe(grant.url, grant.protocols)
}

/** A steady writer: `count` small rows, one every `everyMs`, each stamped with its send time. */
const steady = async (tenantId: string, count: number, everyMs: number, sentAt: Map<string, number>, ackedAt: Map<string, number>) => {
  for (let i = 0; i < count; i++) {
    const id = `${tenantId}-${String(i).padStart(3, "0")}`
    sentAt.set(id, Date.now())
    await items.insert({ id, tenantId, title: `row ${i}` })
    ackedAt.set(id, Date.now())
    await sleep(everyMs)
  }
}

const bindings = env as unknown as { REALTIME_TABLE_HUBS: DurableObjectNamespace }
const hubOf = (tenantId: string) => {
  const table = databaseDefinition("default/r5")!.tables.get("items")!
  return bindings.REALTIME_TABLE_HUBS.get(bindings.REALTIME_TABLE_HUBS.idFromName(objectName("default/r5", "tableHub", hubIdOf(table, { tenantId }))))
}

describe("R5a–R5b bounded drain and head-of-line isolation: one tenant cannot stop change delivery for the others on its shard", () => {
  it("40 × ~1 MB rows from one tenant plus a steady stream from two others on the same shard: every change arrives, in order", async () => {
    const big = uid("big")
    const [a, b] = [uid("steady-a"), uid("steady-b")]
    const [bigSocket, aSocket, bSocket] = [await tenantStream(big), await tenantStream(a), await tenantStream(b)]
    const sentAt = new Map<string, number>()
    const ackedAt = new Map<string, number>()
    const started = Date.now()
    const title = "x".repeat(1_000_000)
    const writes = Promise.all([
      Promise.all(Array.from({ length: 40 }, (_, i) => items.insert({ id: `${big}-${i}`, tenantId: big, title }))),
      steady(a, 40, 10, sentAt, ackedAt),
      steady(b, 40, 10, sentAt, ackedAt),
    ])
    await writes
    const writesMs = Date.now() - started
    const [aChanges, bChanges] = await Promise.all([aSocket.waitChanges(40, 20_000), bSocket.waitChanges(40, 20_000)])
    const othersMs = Date.now() - started
    // The big tenant's subscriber gets its changes or an explicit resync — never silence.
    await eventually(() => (bigSocket.changes().length === 40 || bigSocket.frames.some((f) => f.type === "resync") ? true : undefined), 30_000, "the big tenant's changes or a resync")
    const bigMs = Date.now() - started
    for (const [tenant, changes] of [[a, aChanges], [b, bChanges]] as const) {
      expect(changes.map((c) => c.seq)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1))
      expect(changes.map((c) => c.new.id)).toEqual(Array.from({ length: 40 }, (_, i) => `${tenant}-${String(i).padStart(3, "0")}`))
    }
    const latencies = [...aChanges, ...bChanges].map((c) => receivedAt.get(c)! - sentAt.get(c.new.id)!).sort((x, y) => x - y)
    const p50 = latencies[Math.floor(latencies.length / 2)]
    const max = latencies[latencies.length - 1]
    // From the write's acknowledgement to the frame: the drain and fan-out alone.
    const afterAck = [...aChanges, ...bChanges].map((c) => receivedAt.get(c)! - ackedAt.get(c.new.id)!).sort((x, y) => x - y)
    const bigChanges = bigSocket.changes()
    expect(new Set(bigChanges.map((c) => c.new.id)).size).toBe(bigChanges.length)
    expect(bigChanges.map((c) => c.seq)).toEqual(Array.from({ length: bigChanges.length }, (_, i) => i + 1))
    const outbox = await eventually(async () => {
      const stats = await r5Db.outbox(0)
      return stats.pending === 0 ? stats : undefined
    }, 10_000, "an empty outbox")
    expect(outbox.parked).toBe(0)
    console.log(
      `R5 figures: 40 x 1,000,000-char rows + 2 x 40 steady rows on one shard; writes ${writesMs} ms; other tenants' 80 changes all delivered in order by ${othersMs} ms (insert call to frame: p50 ${p50} ms, max ${max} ms; write acknowledged to frame: p50 ${afterAck[Math.floor(afterAck.length / 2)]} ms, max ${afterAck[afterAck.length - 1]} ms); big tenant ${bigChanges.length}/40 changes${bigSocket.frames.some((f) => f.type === "resync") ? " + resync" : ""} by ${bigMs} ms; pending ${outbox.pending}, parked ${outbox.parked}`,
    )
    for (const socket of [bigSocket, aSocket, bSocket]) socket.close()
  })

  it("a hub that keeps failing delays only its own changes; its change is parked (kept, counted) and its subscribers get a gap resync, then later changes", async () => {
    const broken = uid("broken")
    const healthy = uid("healthy")
    const [brokenSocket, healthySocket] = [await tenantStream(broken), await tenantStream(healthy)]
    // Break the broken tenant's hub: every publish to it fails (its storage refuses the insert).
    await runInDurableObject(hubOf(broken), (_instance, state) => {
      state.storage.sql.exec("CREATE TRIGGER r5_broken BEFORE INSERT ON hub_changes BEGIN SELECT RAISE(ABORT, 'r5 test: this hub is broken'); END")
    })
    await items.insert({ id: `${broken}-first`, tenantId: broken, title: "never delivered" })
    // More than a drain window (and a scan step) of that tenant's changes queue up behind it...
    for (let n = 0; n < 6; n++) {
      await r5Db.transaction(broken, Array.from({ length: 100 }, (_, i) => ({ op: "insert" as const, table: "items" as const, row: { id: `${broken}-q${n}-${i}`, tenantId: broken, title: "queued" } })))
    }
    // ... and the healthy tenant's changes still arrive, promptly and in order.
    const started = Date.now()
    for (let i = 0; i < 5; i++) await items.insert({ id: `${healthy}-${i}`, tenantId: healthy, title: "flows" })
    const healthyChanges = await healthySocket.waitChanges(5, 5_000)
    const healthyMs = Date.now() - started
    expect(healthyChanges.map((c) => c.new.id)).toEqual(Array.from({ length: 5 }, (_, i) => `${healthy}-${i}`))
    expect(brokenSocket.changes()).toHaveLength(0)

    // After three failed attempts the first change is parked: kept, counted, with its error.
    const parked = await eventually(async () => {
      const stats = await r5Db.outbox(0)
      return stats.parked === 1 ? stats : undefined
    }, 15_000, "a parked change")
    const parkedMs = Date.now() - started
    expect(parked.parkedRows).toHaveLength(1)
    expect(parked.parkedRows[0]).toMatchObject({ row_key: JSON.stringify(`${broken}-first`), parked_at: expect.any(Number) })
    // Three attempts of the change, then (the hub still failing) attempts of its gap marker.
    expect(parked.parkedRows[0].attempts).toBeGreaterThanOrEqual(3)
    expect(parked.parkedRows[0].error).toContain("this hub is broken")
    expect(parked.pending).toBeGreaterThanOrEqual(601)
    // The healthy tenant keeps flowing while the broken hub is retried.
    await items.insert({ id: `${healthy}-late`, tenantId: healthy, title: "still flows" })
    expect((await healthySocket.waitChanges(6, 5_000))[5].new.id).toBe(`${healthy}-late`)

    // The hub recovers: its subscribers get the gap marker for the parked change, then every later change in order.
    await runInDurableObject(hubOf(broken), (_instance, state) => {
      state.storage.sql.exec("DROP TRIGGER r5_broken")
    })
    await brokenSocket.waitFor((frame) => frame.type === "resync", 40_000)
    const after = await brokenSocket.waitChanges(600, 40_000)
    const recoveredMs = Date.now() - started
    const gap = brokenSocket.frames.find((frame) => frame.type === "resync")!
    expect(gap).toMatchObject({ type: "resync", reason: "gap", seq: 1 })
    expect(gap.message).toContain("could not be delivered")
    expect(brokenSocket.frames.indexOf(gap)).toBeLessThan(brokenSocket.frames.indexOf(after[0]))
    expect(after.map((c) => c.seq)).toEqual(Array.from({ length: 600 }, (_, i) => i + 2))
    expect(after[0].new.id).toBe(`${broken}-q0-0`)
    const final = await eventually(async () => {
      const stats = await r5Db.outbox(0)
      return stats.pending === 0 ? stats : undefined
    }, 10_000, "an empty outbox")
    // Parked, never dropped: the row is still there, and still counted.
    expect(final.parked).toBe(1)
    expect(final.parkedRows[0].published_at).toEqual(expect.any(Number))
    console.log(`R5 isolation figures: broken hub with 601 queued changes; healthy tenant's 5 changes in ${healthyMs} ms; parked after ${parkedMs} ms (3 attempts); recovered stream (gap + 600 changes) by ${recoveredMs} ms`)
    for (const socket of [brokenSocket, healthySocket]) socket.close()
  })
  it("a hub's resume buffer is bounded in bytes as well as in changes: too far back is an explicit resync", async () => {
    const tenant = uid("buffered")
    const live = await tenantStream(tenant)
    // 30 changes of ~5,000 characters: 150,000 characters against a 65,536 bufferBytes.
    for (let i = 0; i < 30; i++) await items.insert({ id: `${tenant}-${String(i).padStart(2, "0")}`, tenantId: tenant, title: "y".repeat(5_000) })
    const changes = await live.waitChanges(30)
    expect(changes.map((c) => c.seq)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1))
    const grant = await r5Db.realtime.authorize({ table: "items", filters: { tenantId: tenant }, actor: { type: "user", id: "resumer" } })
    const tooFar = await subscribe(`${grant.url}&since=0`, grant.protocols)
    expect(tooFar.frames[0]).toMatchObject({ type: "resync", reason: "behind", seq: 30 })
    const recent = await subscribe(`${grant.url}&since=25`, grant.protocols)
    expect(recent.changes().map((c) => c.seq)).toEqual([26, 27, 28, 29, 30])
    for (const socket of [live, tooFar, recent]) socket.close()
  })
  it("a parked change's gap marker is part of the stream: a client resuming from before it gets the resync in order", async () => {
    const tenant = uid("replayed-gap")
    await items.insert({ id: `${tenant}-0`, tenantId: tenant, title: "delivered" })
    await eventually(async () => ((await r5Db.outbox(0)).pending === 0 ? true : undefined), 10_000, "the first change delivered")
    await runInDurableObject(hubOf(tenant), (_instance, state) => {
      state.storage.sql.exec("CREATE TRIGGER r5_gap BEFORE INSERT ON hub_changes BEGIN SELECT RAISE(ABORT, 'r5 test: broken for one change'); END")
    })
    await items.insert({ id: `${tenant}-1`, tenantId: tenant, title: "parked" })
    await eventually(async () => ((await r5Db.outbox(0)).parkedRows.some((row) => row.row_key === JSON.stringify(`${tenant}-1`)) ? true : undefined), 15_000, "the change parked")
    await runInDurableObject(hubOf(tenant), (_instance, state) => {
      state.storage.sql.exec("DROP TRIGGER r5_gap")
    })
    await items.insert({ id: `${tenant}-2`, tenantId: tenant, title: "after" })
    await eventually(async () => ((await r5Db.outbox(0)).pending === 0 ? true : undefined), 15_000, "the marker and the later change delivered")
    const grant = await r5Db.realtime.authorize({ table: "items", filters: { tenantId: tenant }, actor: { type: "user", id: "resumer" } })
    const resumed = await subscribe(`${grant.url}&since=1`, grant.protocols)
    expect(resumed.frames.map((frame) => (frame.type === "database.change" ? `change:${frame.seq}:${frame.new.id}` : `${frame.type}${frame.reason === undefined ? "" : `:${frame.reason}`}:${frame.seq}`))).toEqual([
      "resync:gap:2",
      `change:3:${tenant}-2`,
      "ready:3",
    ])
    resumed.close()
  })
})
