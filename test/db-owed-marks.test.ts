/**
 * A write sent directly to its hub is marked published without a turn of its own (each turn that
 * writes ends in a commit): the mark is owed once the hub acknowledged it, and stored by the next
 * turn that writes anyway — the next write's, or the retry job's when no write follows.
 */
import { runInDurableObject } from "cloudflare:test"
import { describe, expect, it } from "vitest"
import { OUTBOX_TABLE } from "../src/db/Names.js"
import { DRAIN_RETRY_MS } from "../src/db/shard/DbShard.js"
import { post, tenantShard, testDb, type ShardHost } from "./db-helpers.js"

describe("owed published marks", () => {
  it("a direct send's mark is stored by the next write's turn, and by the retry job when no write follows", async () => {
    const { tenant, socket, address, stub } = await tenantShard()
    // Boots the shard and arms its retry job.
    await testDb.table("posts").insert(post(tenant, "m0"))
    await socket.waitChanges(1)

    const outcome = await runInDurableObject(stub, async (object, state) => {
      const host = object as unknown as ShardHost
      const sql = state.storage.sql
      const write = (id: string) => host.invoke({ address, op: "write", input: { writes: [{ op: "insert", table: "posts", row: post(tenant, id) }] } })
      const published = (id: string) =>
        (sql.exec(`SELECT published_at FROM ${OUTBOX_TABLE} WHERE json_extract(new_row, '$.id') = ? ORDER BY id DESC LIMIT 1`, id).toArray()[0] as { published_at: number | null }).published_at !== null
      // Marks stored in a turn of their own would show here: count the statements that mark.
      let marking = 0
      const exec = sql.exec
      ;(sql as { exec: SqlStorage["exec"] }).exec = function (this: SqlStorage, query: string, ...bindings: Array<unknown>) {
        if (query.startsWith(`UPDATE ${OUTBOX_TABLE} SET published_at`)) marking++
        return exec.call(this, query, ...bindings)
      } as SqlStorage["exec"]
      try {
        // m1's turn stores m0's owed mark (m0 was sent directly too): count from here.
        await write("m1")
        marking = 0
        // The hub applied m1: its frame arrived.
        await socket.waitChanges(2)
        await new Promise((resolve) => setTimeout(resolve, 20))
        const afterAck = { published: published("m1"), marking }
        // The next write's turn stores m1's mark: in that same synchronous call, before it answers.
        const answer = write("m2")
        const afterNext = { published: published("m1"), marking, synchronous: !(answer instanceof Promise) }
        await answer
        await socket.waitChanges(3)
        // No write follows m2: the retry job (armed to come within DRAIN_RETRY_MS) stores its mark.
        let jobStored = false
        for (let tries = 0; tries < 3 * DRAIN_RETRY_MS && !jobStored; tries++) {
          jobStored = published("m2")
          if (!jobStored) await new Promise((resolve) => setTimeout(resolve, 1))
        }
        return { afterAck, afterNext, jobStored }
      } finally {
        ;(sql as { exec: SqlStorage["exec"] }).exec = exec
      }
    })

    expect(outcome.afterAck).toEqual({ published: false, marking: 0 })
    expect(outcome.afterNext).toEqual({ published: true, marking: 1, synchronous: true })
    expect(outcome.jobStored).toBe(true)
    socket.close()
  })
})
