/**
 * The shard's straight path for a lone insert (`shard/LoneInsert.ts`) reads the write's input as the
 * Worker sends it. Its agreement test (`db-lone-insert.test.ts`) builds its own inputs, so it cannot
 * see the Worker's request shape drift away from what the straight path takes — every write would
 * then quietly fall back to the general path. Here the inputs are the ones the Worker's facade
 * (`makeWritesNow`) really sends, on the stub and through the request's RPC session, and the
 * straight path must take each of them.
 */
import { env, runInDurableObject } from "cloudflare:test"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { makeWritesNow } from "../src/db/Database.js"
import { shardOf } from "../src/db/Placement.js"
import { makeLoneInsert } from "../src/db/shard/LoneInsert.js"
import { planMigrations } from "../src/db/shard/Migrations.js"
import type { ObjectNamespace } from "../src/internal/ObjectStubs.js"
import { runWithAmbientRequest } from "../src/internal/PromiseFacade.js"
import * as Sql from "../src/services/Sql.js"
import { metaMigration } from "../src/storage/Meta.js"
import { post, testDb, uid } from "./db-helpers.js"

const shards = (env as unknown as { REALTIME_DB_SHARDS: DurableObjectNamespace }).REALTIME_DB_SHARDS

/** A stand-in shard namespace that records each write's input and the route it came by. */
const recordingNamespace = () => {
  const sent: Array<{ route: string; input: unknown }> = []
  // The stand-in answers a number, which the write's answer check refuses: only the inputs count here.
  const record = (route: string, input: unknown) => {
    sent.push({ route, input })
    return { _tag: "Success", value: 0 }
  }
  const namespace: ObjectNamespace = {
    idFromName: (name) => ({ name, toString: () => name }) as unknown as DurableObjectId,
    get: () => ({
      invoke: async (request: { input: unknown }) => record("stub", request.input),
      session: async () => ({
        invoke: async (request: { input: unknown }) => record("session", request.input),
        invokeOp: async (_op: string, input: unknown) => record("session", input),
      }),
    }),
  }
  return { namespace, sent }
}

describe("a lone insert's straight path and the Worker's wire", () => {
  it("takes every one-row insert as the Worker's facade sends it, on the stub and through the request's session", async () => {
    const { namespace, sent } = recordingNamespace()
    const writes = makeWritesNow(testDb.definition, { [testDb.definition.bindings.shards]: namespace })("posts")
    const tenant = uid("t")
    const rows = ["w1", "w2", "w3", "w4"].map((id) => post(tenant, id, { slug: `${tenant}-${id}` }))
    await runWithAmbientRequest(new Request("http://example.com/"), async () => {
      for (const row of rows) await writes.insert(row).catch(() => undefined)
    })
    expect(sent.map(({ route }) => route)).toEqual(["stub", "stub", "session", "session"])

    const shard = shardOf(tenant, testDb.definition.shards)
    await runInDurableObject(shards.get(shards.newUniqueId()), async (_instance, state) => {
      const sql = Sql.makeSql(state.storage)
      const plan = planMigrations(testDb.definition, [], undefined)
      if ("refused" in plan) throw new Error(plan.refused)
      Effect.runSync(Sql.migrate(sql, [metaMigration, ...plan.migrations]))
      const handed: Array<unknown> = []
      const lone = makeLoneInsert({
        definition: testDb.definition,
        shard,
        sql,
        takes: () => false,
        streamFor: () => {
          throw new Error("posts streams from hubs: no stream in the shard")
        },
        subscribersOf: () => [],
        beforeCommit: () => {},
        drainArmed: () => true,
        toHubs: (changes) => void handed.push(...changes),
      })
      sent.forEach(({ route, input }, index) => {
        const answer = lone(input, 1_700_000_000_000 + index, () => `req-${index}`)
        expect(answer, `write ${index + 1} (${route}) was not taken: ${JSON.stringify(input)}`).toBeDefined()
        expect(answer![0]).toMatchObject({ op: "insert", table: "posts", row: { id: rows[index].id, tenantId: tenant } })
      })
      expect(handed).toHaveLength(rows.length)
      const stored = state.storage.sql.exec(`SELECT id FROM "posts" ORDER BY id`).toArray()
      expect(stored.map((row) => row.id)).toEqual(rows.map((row) => row.id))
    })
  })
})
