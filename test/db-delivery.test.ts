import { describe, expect, it } from "vitest"
import { post, postsGrant, sleep, streamUrl, subscribe, testDb, uid } from "./db-helpers.js"

const tenantStream = async (tenant: string, extra: Record<string, string> = {}) => {
  const grant = await postsGrant({ tenantId: tenant })
  const url = `${grant.url}&${new URLSearchParams(extra).toString()}`
  return subscribe(url, grant.protocols)
}

describe("resume and snapshots", () => {
  it("a client that reconnects with since gets exactly what it missed from the buffer, then live changes", async () => {
    const tenant = uid("t")
    const first = await tenantStream(tenant)
    for (let i = 0; i < 3; i++) await testDb.table("posts").insert(post(tenant, `r${i}`))
    const seen = await first.waitChanges(3)
    first.close()
    for (let i = 3; i < 7; i++) await testDb.table("posts").insert(post(tenant, `r${i}`))
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
