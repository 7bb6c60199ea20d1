/**
 * Pipelined drain rounds: a shard sends the next round before the previous one is acknowledged,
 * so a hub must never apply a batch whose predecessor it did not apply (that would skip it).
 */
import { env } from "cloudflare:test"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { databaseDefinition } from "../src/db/Declaration.js"
import { TableHubOps } from "../src/db/Ops.js"
import { hubIdOf } from "../src/db/Placement.js"
import type { ShardChange } from "../src/db/Protocol.js"
import { callActor, type ActorNamespace } from "../src/internal/rpc.js"
import { r5Db } from "./db-schema.js"
import { subscribe, uid } from "./db-helpers.js"

const hubs = (env as unknown as { REALTIME_TABLE_HUBS: ActorNamespace }).REALTIME_TABLE_HUBS

describe("pipelined drain rounds", () => {
  it("a hub refuses a batch sent `after` an outbox id it has not applied (InvalidInput on after), and applies it once that id is in", async () => {
    const tenant = uid("t")
    const hubId = hubIdOf(databaseDefinition("default/r5")!.tables.get("items")!, { tenantId: tenant })
    const address = { instance: "default/r5", id: hubId }
    const change = (outboxId: number): ShardChange => ({ shard: 0, outboxId, table: "items", event: "insert", old: null, new: { id: `${tenant}-${outboxId}`, tenantId: tenant, title: "x" }, requestId: "r", createdAt: 0 })
    const publish = (changes: ReadonlyArray<ShardChange>, after?: number) =>
      Effect.runPromise(Effect.either(callActor(hubs, "tableHub", address, TableHubOps.publish, after === undefined ? { changes } : { changes, after })))
    const grant = await r5Db.realtime.authorize({ table: "items", filters: { tenantId: tenant }, actor: { type: "user", id: "reader" } })
    const socket = await subscribe(grant.url, grant.protocols)

    // Round 2 overtook round 1 (or round 1 failed): refused, nothing applied.
    const early = await publish([change(3), change(4)], 2)
    expect(early._tag).toBe("Left")
    expect(early._tag === "Left" && early.left).toMatchObject({ _tag: "InvalidInput", field: "after" })
    // Round 1 arrives: applied; round 2 again: applied after it, in order.
    expect(await publish([change(1), change(2)], undefined)).toMatchObject({ _tag: "Right", right: { applied: 2 } })
    expect(await publish([change(3), change(4)], 2)).toMatchObject({ _tag: "Right", right: { applied: 2, seq: 4 } })
    const changes = await socket.waitChanges(4)
    expect(changes.map((frame) => [frame.seq, frame.new.id])).toEqual([1, 2, 3, 4].map((n) => [n, `${tenant}-${n}`]))
    socket.close()
  })
})
