/**
 * Conformance of the transport hub's channel memberships: the same tests against
 * `ChannelMembershipStore.layerSqlite` (a real Durable Object's SQLite) and `layerMemory`.
 */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import * as ChannelMembershipStore from "../src/storage/ChannelMembershipStore.js"
import { storageLayers } from "./storage-helpers.js"

const run = storageLayers({
  migrations: [ChannelMembershipStore.membershipMigration],
  sqlite: ChannelMembershipStore.layerSqlite,
  memory: ChannelMembershipStore.layerMemory,
})

const sorted = (rows: ReadonlyArray<ChannelMembershipStore.Membership>) =>
  rows.map((row) => `${row.channel}/${row.connectionId}/${row.userId}`).sort()

describe.each(["sqlite", "memory"] as const)("ChannelMembershipStore conformance: %s", (layer) => {
  it("adds memberships once (the first user stays), removes one, and removes a connection from every channel", async () => {
    const result = await run(
      layer,
      Effect.gen(function* () {
        const store = yield* ChannelMembershipStore.ChannelMembershipStore
        const empty = yield* store.all
        yield* store.add({ channel: "news", connectionId: "c1", userId: "ada" })
        yield* store.add({ channel: "news", connectionId: "c1", userId: "someone-else" })
        yield* store.add({ channel: "sports", connectionId: "c1", userId: "ada" })
        yield* store.add({ channel: "news", connectionId: "c2", userId: "bob" })
        yield* store.add({ channel: "chess", connectionId: "c2", userId: "bob" })
        const added = sorted(yield* store.all)
        yield* store.remove("chess", "c2")
        yield* store.remove("chess", "nobody")
        const afterRemove = sorted(yield* store.all)
        yield* store.removeConnection("c1")
        return { empty, added, afterRemove, final: sorted(yield* store.all) }
      }),
    )
    expect(result.empty).toEqual([])
    expect(result.added).toEqual(["chess/c2/bob", "news/c1/ada", "news/c2/bob", "sports/c1/ada"])
    expect(result.afterRemove).toEqual(["news/c1/ada", "news/c2/bob", "sports/c1/ada"])
    expect(result.final).toEqual(["news/c2/bob"])
  })
})
