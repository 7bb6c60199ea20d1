/**
 * The shard's drain runs one pass at a time (a single-flight flag): a write that commits while a
 * pass runs only asks it to go round once more. A write landing after the pass's last look at that
 * request but before the flag is released must still be sent at once, not left to the durable retry
 * job (`DRAIN_RETRY_MS` later). The window is opened here by landing a write exactly there: inside
 * the pass's closing outbox count (the last statement before the flag is released), through the
 * shard's synchronous write path, which is what any write arriving in that turn would take.
 */
import { runInDurableObject } from "cloudflare:test"
import { describe, expect, it } from "vitest"
import { OUTBOX_TABLE } from "../src/db/Names.js"
import { DRAIN_RETRY_MS } from "../src/db/shard/DbShard.js"
import { post, tenantShard, testDb, type ShardHost } from "./db-helpers.js"

describe("the shard's drain flight", () => {
  it("a write committed while a drain pass is closing is sent at once, not left to the retry job", async () => {
    const { tenant, socket, address, stub } = await tenantShard()
    // Boots the shard, arms its retry job and leaves its outbox clear.
    await testDb.table("posts").insert(post(tenant, "d0"))
    await socket.waitChanges(1)

    const outcome = await runInDurableObject(stub, async (object, state) => {
      const host = object as unknown as ShardHost
      const sql = state.storage.sql as { exec: SqlStorage["exec"] }
      const exec = sql.exec
      const write = (id: string) => host.invoke({ address, op: "write", input: { writes: [{ op: "insert", table: "posts", row: post(tenant, id) }] } })
      const publishedAt = (id: string) =>
        (exec.call(state.storage.sql, `SELECT published_at FROM ${OUTBOX_TABLE} WHERE json_extract(new_row, '$.id') = ? ORDER BY id DESC LIMIT 1`, id).toArray()[0] as { published_at: number | null } | undefined)
          ?.published_at ?? null
      let armed = false
      let landed: { answer: unknown; at: number } | undefined
      sql.exec = function (this: SqlStorage, query: string, ...bindings: Array<unknown>) {
        // The pass's closing count of pending rows: land a write right here, once.
        if (armed && query.startsWith(`SELECT COUNT(*) AS n FROM ${OUTBOX_TABLE} WHERE published_at IS NULL`)) {
          armed = false
          landed = { answer: write("d3"), at: Date.now() }
        }
        return exec.call(this, query, ...bindings)
      } as SqlStorage["exec"]
      try {
        // d1 is sent directly; d2 commits while that send is in flight, so a drain pass takes it after.
        const first = write("d1")
        armed = true
        await Promise.all([first, write("d2")])
        for (let tries = 0; tries < 2000 && landed === undefined; tries++) await new Promise((resolve) => setTimeout(resolve, 1))
        if (landed === undefined) throw new Error("no drain pass closed")
        // Waits longer than the retry job's delay: a write left to it is published only after that.
        let publishedAfter: number | undefined
        for (let tries = 0; tries < 3 * DRAIN_RETRY_MS && publishedAfter === undefined; tries++) {
          if (publishedAt("d3") !== null) publishedAfter = Date.now() - landed.at
          else await new Promise((resolve) => setTimeout(resolve, 1))
        }
        return { synchronous: !(landed.answer instanceof Promise), publishedAfter }
      } finally {
        sql.exec = exec
      }
    })

    // The write took the synchronous path: it committed inside the closing pass's turn.
    expect(outcome.synchronous).toBe(true)
    expect(outcome.publishedAfter).toBeDefined()
    // Sent by a drain pass at once: well before the retry job's delay.
    expect(outcome.publishedAfter!).toBeLessThan(DRAIN_RETRY_MS / 2)
    expect((await socket.waitChanges(4)).map((change) => change.new.id)).toEqual(["d0", "d1", "d2", "d3"])
    socket.close()
  })
})
