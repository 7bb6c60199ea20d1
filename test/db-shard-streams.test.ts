/**
 * Change streams hosted in their shard (`streamFrom: "shard"`): one hop from the Worker to the
 * object that commits the row and delivers it. What a table hub offers must hold here too: delivery
 * in the write's own turn, order, `since` resume, snapshots first, filters, grants, refusals that
 * deliver nothing, updates that move a row between partitions, exactly once per outbox id.
 */
import { env, runInDurableObject } from "cloudflare:test"
import { describe, expect, it } from "vitest"
import { OUTBOX_TABLE } from "../src/db/Names.js"
import { hubIdOf, shardId, shardOf } from "../src/db/Placement.js"
import { objectName } from "../src/internal/rpc.js"
import { countingMailbox, openStream, sleep, subscribe, uid, type DbSocket } from "./db-helpers.js"
import { coloDb } from "./db-schema.js"

const shards = (env as unknown as { REALTIME_DB_SHARDS: DurableObjectNamespace }).REALTIME_DB_SHARDS
const hubs = (env as unknown as { REALTIME_TABLE_HUBS: DurableObjectNamespace }).REALTIME_TABLE_HUBS
const instance = coloDb.definition.instance
const memos = coloDb.table("memos")
const cards = coloDb.table("cards")

const shardStubOf = (key: string) =>
  shards.get(shards.idFromName(objectName(instance, "dbShard", shardId(shardOf(key, coloDb.definition.shards)))))

const memoStream = async (
  tenantId: string,
  extra: { filters?: Record<string, string>; query?: Record<string, string> } = {},
): Promise<DbSocket> => {
  const grant = await coloDb.realtime.authorize({
    table: "memos",
    filters: { tenantId, ...extra.filters },
    actor: { type: "user", id: "reader" },
  })
  const url = new URL(grant.url, "http://example.com")
  for (const [key, value] of Object.entries(extra.query ?? {})) url.searchParams.set(key, value)
  return subscribe(`${url.pathname}${url.search}`, grant.protocols)
}

const cardsUrl = (orgId: string, boardId: string, query: Record<string, string> = {}) =>
  `/realtime-db?${new URLSearchParams({ database: "colo", table: "cards", filters: JSON.stringify({ orgId, boardId }), ...query })}`

const memo = (tenantId: string, id: string, authorId = "a1") => ({ id, tenantId, authorId, body: `memo ${id}` })

describe("streams hosted in their shard", () => {
  it("delivers a write in the write's own turn: when its answer leaves, the change is buffered, fanned out and its outbox row published, with no table hub", async () => {
    const tenant = uid("t")
    const socket = await memoStream(tenant)
    // Boots the shard and arms its retry job (that write takes the mailbox path).
    await memos.insert(memo(tenant, "m0"))
    const address = { instance, id: shardId(shardOf(tenant, coloDb.definition.shards)) }
    const seen = await countingMailbox(shardStubOf(tenant), async (host, entered, state) => {
      const rows = []
      let answeredAsValues = 0
      for (const n of [1, 2, 3]) {
        const answer = host.invoke({
          address,
          op: "write",
          input: { writes: [{ op: "insert", table: "memos", row: memo(tenant, `m${n}`) }] },
        })
        // The synchronous path answers a value, not a promise: the runtime needs no further turn to hand it back.
        if (!(answer instanceof Promise)) answeredAsValues++
        await answer
        // Read before anything else runs: what the write's own turn left behind.
        const outbox = state.storage.sql
          .exec<{ published_at: number | null }>(`SELECT published_at FROM ${OUTBOX_TABLE} ORDER BY id DESC LIMIT 1`)
          .toArray()[0]
        const buffered = state.storage.sql
          .exec<{ n: number }>(
            "SELECT COUNT(*) AS n FROM hub_partition_changes WHERE hub = ?",
            hubIdOf(coloDb.definition.tables.get("memos")!, { tenantId: tenant }),
          )
          .toArray()[0]
        rows.push({ published: outbox?.published_at !== null, buffered: buffered?.n })
      }
      return { rows, entered: entered(), answeredAsValues }
    })
    expect(seen.entered).toBeLessThan(3)
    expect(seen.answeredAsValues).toBe(3 - seen.entered)
    expect(seen.rows).toEqual([
      { published: true, buffered: 2 },
      { published: true, buffered: 3 },
      { published: true, buffered: 4 },
    ])
    const changes = await socket.waitChanges(4)
    expect(changes.map((change) => [change.seq, change.new.id, change.event])).toEqual(
      [1, 2, 3, 4].map((seq) => [seq, `m${seq - 1}`, "insert"]),
    )
    // The partition's table hub was never used: it holds no stream.
    const hub = hubs.get(
      hubs.idFromName(objectName(instance, "tableHub", hubIdOf(coloDb.definition.tables.get("memos")!, { tenantId: tenant }))),
    )
    expect(
      await runInDurableObject(
        hub,
        (_object, state) => state.storage.sql.exec("SELECT name FROM sqlite_master WHERE name = 'hub_changes'").toArray().length,
      ),
    ).toBe(0)
    socket.close()
  })

  it("keeps order and resumes by seq from the shard's buffer; past the buffer it says resync", async () => {
    const tenant = uid("t")
    const first = await memoStream(tenant)
    for (const n of [1, 2, 3]) await memos.insert(memo(tenant, `r${n}`))
    const changes = await first.waitChanges(3)
    expect(changes.map((change) => change.seq)).toEqual([1, 2, 3])
    first.close()
    for (const n of [4, 5]) await memos.insert(memo(tenant, `r${n}`))
    const resumed = await memoStream(tenant, { query: { since: "3" } })
    const ready = await resumed.waitFor((frame) => frame.type === "ready")
    expect(ready).toMatchObject({ resumed: true, replayed: 2, seq: 5 })
    expect(resumed.changes().map((change) => [change.seq, change.new.id])).toEqual([
      [4, "r4"],
      [5, "r5"],
    ])
    resumed.close()
    // bufferSize 5: after three more, seq 1 is gone from the buffer.
    for (const n of [6, 7, 8]) await memos.insert(memo(tenant, `r${n}`))
    const behind = await memoStream(tenant, { query: { since: "1" } })
    expect(behind.frames.find((frame) => frame.type === "resync")).toMatchObject({ reason: "behind" })
    behind.close()
  })

  it("applies filters and grants: another tenant's or author's changes never arrive, and a private table refuses a socket without a grant", async () => {
    const [tenant, other] = [uid("t"), uid("t")]
    const refused = await openStream(
      `/realtime-db?${new URLSearchParams({ database: "colo", table: "memos", filters: JSON.stringify({ tenantId: tenant }) })}`,
    )
    expect(refused.socket).toBeUndefined()
    expect(refused.response.status).toBe(401)
    const mine = await memoStream(tenant, { filters: { authorId: "a1" } })
    const theirs = await memoStream(other)
    await memos.insert(memo(tenant, "f1", "a2"))
    await memos.insert(memo(other, "f2"))
    await memos.insert(memo(tenant, "f3", "a1"))
    expect((await mine.waitChanges(1)).map((change) => change.new.id)).toEqual(["f3"])
    expect((await theirs.waitChanges(1)).map((change) => change.new.id)).toEqual(["f2"])
    await sleep(50)
    expect(mine.changes()).toHaveLength(1)
    expect(theirs.changes()).toHaveLength(1)
    // The stream takes no frames but ping: anything else is answered with an error frame.
    mine.send("hello")
    await mine.waitFor((frame) => frame.type === "error")
    mine.close()
    theirs.close()
  })

  it("sends the snapshot first, then only the changes after it", async () => {
    const org = uid("o")
    await cards.insert({ id: `${org}-1`, orgId: org, boardId: "b1", title: "one" })
    await cards.insert({ id: `${org}-2`, orgId: org, boardId: "b1", title: "two" })
    const socket = await subscribe(cardsUrl(org, "b1", { snapshot: "true" }))
    const kinds = socket.frames.map((frame) => frame.type)
    expect(kinds.slice(0, 2)).toEqual(["database.snapshot", "ready"])
    expect(socket.frames[0]!.rows.map((row: { id: string }) => row.id)).toEqual([`${org}-1`, `${org}-2`])
    await cards.update({ id: `${org}-2`, orgId: org }, { title: "two'" })
    const [change] = await socket.waitChanges(1)
    expect(change).toMatchObject({ event: "update", new: { title: "two'" } })
    await sleep(50)
    expect(socket.changes()).toHaveLength(1)
    socket.close()
  })

  it("a write that fails delivers nothing, and the next one follows without a gap", async () => {
    const tenant = uid("t")
    const socket = await memoStream(tenant)
    await memos.insert(memo(tenant, "x1"))
    // The second insert repeats a primary key: the whole transaction rolls back.
    const failed = await coloDb
      .transaction(tenant, [
        { op: "insert", table: "memos", row: memo(tenant, "x2") },
        { op: "insert", table: "memos", row: memo(tenant, "x1") },
      ])
      .then(
        () => "committed",
        (error: { _tag?: string }) => error._tag,
      )
    expect(failed).toBe("ConstraintViolation")
    await memos.insert(memo(tenant, "x3"))
    const changes = await socket.waitChanges(2)
    await sleep(50)
    expect(socket.changes().map((change) => [change.seq, change.new.id])).toEqual([
      [1, "x1"],
      [2, "x3"],
    ])
    expect(changes).toHaveLength(2)
    socket.close()
  })

  it("an update that moves a row to another partition of its shard leaves one stream and enters the other; one that changes the shard key is refused", async () => {
    const org = uid("o")
    const [from, to] = [await subscribe(cardsUrl(org, "b1")), await subscribe(cardsUrl(org, "b2"))]
    await cards.insert({ id: `${org}-m`, orgId: org, boardId: "b1", title: "moving" })
    await cards.update({ id: `${org}-m`, orgId: org }, { boardId: "b2" })
    const left = await from.waitChanges(2)
    const entered = await to.waitChanges(1)
    expect(left.map((change) => [change.event, change.scope])).toEqual([
      ["insert", undefined],
      ["delete", "left"],
    ])
    expect(entered).toMatchObject([{ event: "insert", scope: "entered", new: { boardId: "b2" } }])
    const moved = await cards.update({ id: `${org}-m`, orgId: org }, { orgId: uid("o") }).then(
      () => "moved",
      (error: { _tag?: string; field?: string }) => `${error._tag} ${error.field}`,
    )
    expect(moved).toBe("InvalidInput writes.0.patch.orgId")
    await sleep(50)
    expect(from.changes()).toHaveLength(2)
    expect(to.changes()).toHaveLength(1)
    from.close()
    to.close()
  })

  it("a change pending at a restart is drained before any new write is streamed, and applied once: never lost, doubled or reordered", async () => {
    const tenant = uid("t")
    const socket = await memoStream(tenant)
    await memos.insert(memo(tenant, "d1"))
    await socket.waitChanges(1)
    socket.close()
    // A change committed but never streamed (as one written while the table still streamed from hubs),
    // held back for a retry in a second: pending, not buffered; then a restart.
    await runInDurableObject(shardStubOf(tenant), async (_object, state) => {
      state.storage.sql.exec(
        `UPDATE ${OUTBOX_TABLE} SET published_at = NULL, attempts = 1, retry_at = ? WHERE id = (SELECT MAX(id) FROM ${OUTBOX_TABLE})`,
        Date.now() + 1000,
      )
      state.storage.sql.exec(
        "DELETE FROM hub_partition_changes WHERE hub = ?",
        hubIdOf(coloDb.definition.tables.get("memos")!, { tenantId: tenant }),
      )
      await state.storage.sync()
      state.abort("test: restart with a pending hosted change")
    }).catch(() => undefined)
    const resumed = await memoStream(tenant, { query: { since: "0" } })
    await memos.insert(memo(tenant, "d2"))
    await resumed.waitChanges(2, 8000)
    await sleep(100)
    expect(resumed.changes().map((change) => [change.seq, change.new.id])).toEqual([
      [1, "d1"],
      [2, "d2"],
    ])
    const pending = await runInDurableObject(
      shardStubOf(tenant),
      (_object, state) =>
        state.storage.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM ${OUTBOX_TABLE} WHERE published_at IS NULL`).toArray()[0]?.n,
    )
    expect(pending).toBe(0)
    resumed.close()
  })
})
