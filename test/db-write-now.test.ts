/**
 * Synchronous paths of the database's objects. A shard with its mailbox idle and its retry job
 * armed decodes, commits and hands a write to the drain in the RPC's own turn; a hub with its
 * mailbox idle applies a shard's publish in the RPC's own turn. Neither enters the mailbox, and
 * each must answer exactly as the mailbox path does (rows, typed refusals with nothing changed)
 * and keep every change streamed once, in order.
 */
import { env, runInDurableObject } from "cloudflare:test"
import { describe, expect, it } from "vitest"
import { databaseDefinition } from "../src/db/Declaration.js"
import { DbShardOps, TableHubOps } from "../src/db/Ops.js"
import { hubIdOf } from "../src/db/Placement.js"
import type { ShardChange } from "../src/db/Protocol.js"
import { OUTBOX_TABLE } from "../src/db/Names.js"
import { objectName } from "../src/internal/rpc.js"
import { Effect } from "effect"
import { DRAIN_RETRY_MS } from "../src/db/shard/DbShard.js"
import { countingMailbox, post, sleep, subscribe, tenantShard, testDb, uid, type ShardHost as Host } from "./db-helpers.js"
import { r5Db } from "./db-schema.js"

const hubs = (env as unknown as { REALTIME_TABLE_HUBS: DurableObjectNamespace }).REALTIME_TABLE_HUBS

const decode = (answer: unknown) => Effect.runPromise(Effect.either(DbShardOps.write.decodeAnswer(answer)))

describe("synchronous shard writes", () => {
  it("answers writes without the mailbox when it is idle, with the same rows and typed refusals, streamed once in order", async () => {
    const { tenant, socket, address, stub } = await tenantShard()
    // Boots the shard and arms its retry job (the mailbox path).
    await testDb.table("posts").insert(post(tenant, "p0"))

    const outcome = await countingMailbox(stub, async (host, entered) => {
      const write = (row: Record<string, unknown>) => host.invoke({ address, op: "write", input: { writes: [{ op: "insert", table: "posts", row }] } })
      const answers = []
      for (const n of [1, 2, 3, 4, 5]) answers.push(await decode(await write(post(tenant, `p${n}`))))
      const written = entered()
      const refused = await decode(await write({ ...post(tenant, "bad"), views: "many" }))
      return { answers, written, refusedEntered: entered() - written, refused }
    })

    // Five writes in a row: all but a write that had to re-arm the retry job skip the mailbox.
    expect(outcome.written).toBeLessThan(5)
    expect(outcome.answers.map((answer) => answer._tag === "Right" && answer.right[0].row.id)).toEqual(["p1", "p2", "p3", "p4", "p5"])
    expect(outcome.answers[0]).toMatchObject({ _tag: "Right", right: [{ op: "insert", table: "posts", row: { published: false, views: 0, tenantId: tenant } }] })
    // A refused batch is answered on the same path with its typed error, and nothing is stored.
    expect(outcome.refusedEntered).toBe(0)
    expect(outcome.refused).toMatchObject({ _tag: "Left", left: { _tag: "InvalidInput" } })
    expect(await testDb.table("posts").get({ id: "bad", tenantId: tenant })).toBeNull()
    const changes = await socket.waitChanges(6)
    expect(changes.map((change) => [change.seq, change.new.id])).toEqual([0, 1, 2, 3, 4, 5].map((n) => [n + 1, `p${n}`]))
    socket.close()
  })

  /** Counts the drain's outbox scans in a shard while `body` runs, with a helper that waits until a post's outbox row is published. */
  const countingScans = <A>(stub: DurableObjectStub, body: (host: Host, scans: () => number, published: (id: string) => Promise<void>) => Promise<A>) =>
    runInDurableObject(stub, async (object, state) => {
      const sql = state.storage.sql as { exec: SqlStorage["exec"] }
      const exec = sql.exec
      let counting = 0
      sql.exec = function (this: SqlStorage, query: string, ...bindings: Array<unknown>) {
        if (query.includes(`FROM ${OUTBOX_TABLE} WHERE published_at IS NULL AND id > ?`)) counting++
        return exec.call(this, query, ...bindings)
      } as SqlStorage["exec"]
      const published = async (id: string) => {
        for (let tries = 0; tries < 2000; tries++) {
          const row = exec
            .call(state.storage.sql, `SELECT published_at FROM ${OUTBOX_TABLE} WHERE json_extract(new_row, '$.id') = ? ORDER BY id DESC LIMIT 1`, id)
            .toArray()[0] as { published_at: number | null } | undefined
          if (row !== undefined && row.published_at !== null) return
          await new Promise((resolve) => setTimeout(resolve, 1))
        }
        throw new Error(`outbox row of ${id} not published: ${JSON.stringify(exec.call(state.storage.sql, `SELECT id, row_key, published_at, attempts, error FROM ${OUTBOX_TABLE} ORDER BY id DESC LIMIT 3`).toArray())}`)
      }
      try {
        return await body(object as unknown as Host, () => counting, published)
      } finally {
        sql.exec = exec
      }
    })

  it("a write committed with nothing else pending goes to its hub directly: no outbox scan, published once the hub applied it", async () => {
    const { tenant, socket, address, stub } = await tenantShard()
    await testDb.table("posts").insert(post(tenant, "q0"))
    await socket.waitChanges(1)
    /** Waits until the shard's `outbox` reports the post's row published (its mark may be owed to the next turn that writes: `OwedMarks`). */
    const reported = async (host: Host, id: string) => {
      for (let tries = 0; tries < 2000; tries++) {
        const answer = await DbShardOps.outbox.decodeAnswer(await host.invoke({ address, op: "outbox", input: { limit: 5 } })).pipe(Effect.runPromise)
        // The posts table streams by `slug`: its outbox rows are keyed by it.
        if (answer.rows.some((row) => row.row_key === JSON.stringify(post(tenant, id).slug) && row.published_at !== null)) return
        await new Promise((resolve) => setTimeout(resolve, 1))
      }
      throw new Error(`outbox row of ${id} not reported published`)
    }
    const scans = await countingScans(stub, async (host, scans) => {
      const seen = []
      for (const n of [1, 2, 3]) {
        const before = scans()
        await host.invoke({ address, op: "write", input: { writes: [{ op: "insert", table: "posts", row: post(tenant, `q${n}`) }] } })
        await reported(host, `q${n}`)
        seen.push(scans() - before)
      }
      return seen
    })
    expect(scans).toEqual([0, 0, 0])
    expect((await socket.waitChanges(4)).map((change) => change.new.id)).toEqual(["q0", "q1", "q2", "q3"])
    socket.close()
  })

  it("a write left to the drain (another send in flight) is drained on its own with one outbox scan: its round takes everything the scan saw, so no scan runs again", async () => {
    const { tenant, socket, address, stub } = await tenantShard()
    await testDb.table("posts").insert(post(tenant, "s0"))
    await socket.waitChanges(1)
    const scans = await countingScans(stub, async (host, scans, published) => {
      const write = (id: string) => host.invoke({ address, op: "write", input: { writes: [{ op: "insert", table: "posts", row: post(tenant, id) }] } })
      // The first is sent directly; the second commits while that send is in flight, so the drain takes it after.
      const first = write("s1")
      const before = scans()
      await Promise.all([first, write("s2")])
      await published("s2")
      return scans() - before
    })
    expect(scans).toBe(1)
    expect((await socket.waitChanges(3)).map((change) => change.new.id)).toEqual(["s0", "s1", "s2"])
    socket.close()
  })

  it("the drain job prunes published rows at most once a minute, not on every 500 ms retry cycle of a stream", async () => {
    const { tenant, socket, stub } = await tenantShard()
    await testDb.table("posts").insert(post(tenant, "r0"))
    await socket.waitChanges(1)
    let prunes = 0
    let restore = () => {}
    await runInDurableObject(stub, (_object, state) => {
      const sql = state.storage.sql as { exec: SqlStorage["exec"] }
      const exec = sql.exec
      restore = () => (sql.exec = exec)
      sql.exec = function (this: SqlStorage, query: string, ...bindings: Array<unknown>) {
        if (query.startsWith(`DELETE FROM ${OUTBOX_TABLE} WHERE published_at IS NOT NULL`)) prunes++
        return exec.call(this, query, ...bindings)
      } as SqlStorage["exec"]
    })
    // Three retry cycles of a stream: each write arms the job, its alarm runs it.
    for (const n of [1, 2, 3]) {
      await testDb.table("posts").insert(post(tenant, `r${n}`))
      // The job is due DRAIN_RETRY_MS after it was armed: let its alarm fire.
      await sleep(DRAIN_RETRY_MS + 150)
    }
    await socket.waitChanges(4)
    await runInDurableObject(stub, () => restore())
    // At most the first cycle of this object's wake prunes (the job may already have pruned before counting began).
    expect(prunes).toBeLessThanOrEqual(1)
    socket.close()
  })

  it("a hub applies publishes without the mailbox when it is idle: once each, in order, an out-of-order batch refused", async () => {
    const tenant = uid("t")
    const hubId = hubIdOf(databaseDefinition("default/r5")!.tables.get("items")!, { tenantId: tenant })
    const address = { instance: "default/r5", id: hubId }
    const change = (outboxId: number): ShardChange => ({ shard: 0, outboxId, table: "items", event: "insert", old: null, new: { id: `${tenant}-${outboxId}`, tenantId: tenant, title: "x" }, requestId: "r", createdAt: 0 })
    const grant = await r5Db.realtime.authorize({ table: "items", filters: { tenantId: tenant }, actor: { type: "user", id: "reader" } })
    const socket = await subscribe(grant.url, grant.protocols)
    const stub = hubs.get(hubs.idFromName(objectName("default/r5", "tableHub", hubId)))
    const answer = (raw: unknown) => Effect.runPromise(Effect.either(TableHubOps.publish.decodeAnswer(raw)))

    const outcome = await countingMailbox(stub, async (host, entered) => {
      const publish = (changes: ReadonlyArray<ShardChange>, after?: number) => host.invoke({ address, op: "publish", input: after === undefined ? { changes } : { changes, after } })
      const answers = []
      for (const n of [1, 2, 3, 4, 5]) answers.push(await answer(await publish([change(n)])))
      // A re-sent change is a duplicate; a batch after an id not applied yet is refused.
      const again = await answer(await publish([change(5)]))
      const early = await answer(await publish([change(8)], 7))
      // The trusted hop's structural check still refuses what the hub cannot apply, with the field named.
      const malformed = [
        await answer(await publish([{ ...change(6), outboxId: "6" } as never])),
        await answer(await publish([{ ...change(6), new: "row" } as never])),
        await answer(await host.invoke({ address, op: "publish", input: { changes: "all" } })),
      ]
      return { answers, again, early, malformed, entered: entered() }
    })

    // The first publish may schedule the directory report (the mailbox path); the rest skip it.
    expect(outcome.entered).toBeLessThan(10)
    expect(outcome.answers.map((a) => a._tag === "Right" && a.right.seq)).toEqual([1, 2, 3, 4, 5])
    expect(outcome.again).toMatchObject({ _tag: "Right", right: { applied: 0, duplicates: 1, seq: 5 } })
    expect(outcome.early).toMatchObject({ _tag: "Left", left: { _tag: "InvalidInput", field: "after" } })
    expect(outcome.malformed.map((refused) => refused._tag === "Left" && [refused.left._tag, (refused.left as { field?: string }).field])).toEqual([
      ["InvalidInput", "changes.0"],
      ["InvalidInput", "changes.0"],
      ["InvalidInput", "changes"],
    ])
    const changes = await socket.waitChanges(5)
    expect(changes.map((frame) => [frame.seq, frame.new.id])).toEqual([1, 2, 3, 4, 5].map((n) => [n, `${tenant}-${n}`]))
    socket.close()
  })
})
