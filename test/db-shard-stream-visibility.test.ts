/**
 * Streams hosted in their shard (`streamFrom: "shard"`) as operators and grant holders see them,
 * exactly as a table hub's partition: listed in the database's directory with their subscribers
 * and buffered changes, their position read by `Inspect.hub` from the shard that holds them, and a
 * subscriber whose grant expires closed with 4001 by the shard's expiry job.
 */
import { env } from "cloudflare:test"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { Inspect, type HubSummary } from "../src/index.js"
import { shardOf } from "../src/db/Placement.js"
import { eventually, subscribe, uid } from "./db-helpers.js"
import { coloDb } from "./db-schema.js"

const memos = coloDb.table("memos")
const bindings = env as unknown as Record<string, unknown>

const memoGrant = (tenantId: string, ttlSeconds?: number) =>
  coloDb.realtime.authorize({
    table: "memos",
    filters: { tenantId },
    actor: { type: "user", id: "reader" },
    ...(ttlSeconds === undefined ? {} : { ttlSeconds }),
  })

/** Every hub the database's directory lists, walked page by page. */
const listedHubs = async () => {
  const hubs: Array<HubSummary> = []
  let cursor: string | null = null
  do {
    const page: { hubs: ReadonlyArray<HubSummary>; nextCursor: string | null } = await Effect.runPromise(Inspect.hubs(coloDb, bindings, { limit: 50, cursor }))
    hubs.push(...page.hubs)
    cursor = page.nextCursor
  } while (cursor !== null)
  return hubs
}

describe("streams hosted in their shard, as operators see them", () => {
  it("lists a hosted partition in the database's directory with its subscribers, and Inspect.hub reads its position from the shard", async () => {
    const [alpha, beta] = [uid("vis-a"), uid("vis-b")]
    const alphaGrant = await memoGrant(alpha)
    const betaGrant = await memoGrant(beta)
    const sockets = [await subscribe(alphaGrant.url, alphaGrant.protocols), await subscribe(alphaGrant.url, alphaGrant.protocols), await subscribe(betaGrant.url, betaGrant.protocols)]
    for (const n of [1, 2]) await memos.insert({ id: `a${n}`, tenantId: alpha, authorId: "a1", body: "x" })
    await memos.insert({ id: "b1", tenantId: beta, authorId: "a1", body: "x" })
    await Promise.all([sockets[0].waitChanges(2), sockets[1].waitChanges(2), sockets[2].waitChanges(1)])

    const mine = (hubs: ReadonlyArray<HubSummary>) => hubs.filter((hub) => hub.filters?.tenantId === alpha || hub.filters?.tenantId === beta)
    const reported = await eventually(
      async () => {
        const hubs = mine(await listedHubs())
        return hubs.length === 2 && hubs.every((hub) => hub.subscribers === (hub.filters?.tenantId === alpha ? 2 : 1)) ? hubs : undefined
      },
      5000,
      "both hosted partitions reported with their subscribers",
    )
    for (const hub of reported) {
      const tenant = hub.filters?.tenantId as string
      expect(hub).toMatchObject({ database: "colo", table: "memos", shard: shardOf(tenant, coloDb.definition.shards) })
      expect(hub.shardPending).toBe(0)
    }

    const state = await Effect.runPromise(Inspect.hub(coloDb, bindings, "memos", { tenantId: alpha }))
    expect(state).toMatchObject({ database: "colo", table: "memos", filters: { tenantId: alpha }, seq: 2, connections: 2 })

    // A subscriber leaving is reported, as a hub reports it.
    sockets[0].close()
    await eventually(
      async () => ((mine(await listedHubs()).find((hub) => hub.filters?.tenantId === alpha)?.subscribers ?? -1) === 1 ? true : undefined),
      5000,
      "alpha's partition down to one subscriber",
    )
    for (const socket of sockets.slice(1)) socket.close()
  })

  it("a subscriber whose grant expires is closed with 4001 (refresh and reconnect) by the shard's expiry job", async () => {
    const tenant = uid("vis-exp")
    // Grants expire on whole seconds, so a 2-second grant has between 1 and 2 seconds left.
    const grant = await memoGrant(tenant, 2)
    const socket = await subscribe(grant.url, grant.protocols)
    const closed = await Promise.race([socket.closed, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 6000))])
    expect(closed?.code).toBe(4001)
  })
})
