/**
 * A shard's synchronous write path: with its mailbox idle and its retry job armed, a write is
 * decoded, committed and handed to the drain in the RPC's own turn, without entering the mailbox.
 * It must answer exactly as the mailbox path does (rows, typed refusals with nothing stored) and
 * keep every change streamed once, in order.
 */
import { env, runInDurableObject } from "cloudflare:test"
import { describe, expect, it } from "vitest"
import { DbShardOps } from "../src/db/Ops.js"
import { shardId, shardOf } from "../src/db/Placement.js"
import { objectName } from "../src/internal/rpc.js"
import { Effect } from "effect"
import { post, postsGrant, subscribe, testDb, uid } from "./db-helpers.js"

const shards = (env as unknown as { REALTIME_DB_SHARDS: DurableObjectNamespace }).REALTIME_DB_SHARDS

interface Host {
  invoke(raw: unknown): Promise<unknown>
  runInMailbox(...args: Array<unknown>): Promise<unknown>
}

const decode = (answer: unknown) => Effect.runPromise(Effect.either(DbShardOps.write.decodeAnswer(answer)))

describe("synchronous shard writes", () => {
  it("answers writes without the mailbox when it is idle, with the same rows and typed refusals, streamed once in order", async () => {
    const tenant = uid("t")
    const grant = await postsGrant({ tenantId: tenant })
    const socket = await subscribe(grant.url, grant.protocols)
    const instance = testDb.definition.instance
    const address = { instance, id: shardId(shardOf(tenant, testDb.definition.shards)) }
    const stub = shards.get(shards.idFromName(objectName(instance, "dbShard", address.id)))
    // Boots the shard and arms its retry job (the mailbox path).
    await testDb.table("posts").insert(post(tenant, "p0"))

    const outcome = await runInDurableObject(stub, async (object) => {
      const host = object as unknown as Host
      const original = host.runInMailbox
      let entered = 0
      host.runInMailbox = function (this: Host, ...args: Array<unknown>) {
        entered++
        return original.apply(this, args)
      }
      try {
        const write = (row: Record<string, unknown>) => host.invoke({ address, op: "write", input: { writes: [{ op: "insert", table: "posts", row }] } })
        const answers = []
        for (const n of [1, 2, 3, 4, 5]) answers.push(await decode(await write(post(tenant, `p${n}`))))
        const written = entered
        const refused = await decode(await write({ ...post(tenant, "bad"), views: "many" }))
        return { answers, written, refusedEntered: entered - written, refused }
      } finally {
        host.runInMailbox = original
      }
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
})
