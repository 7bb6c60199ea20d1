/**
 * The inspector: the directory's resource index (paged, filtered), a room's members, presence
 * and last messages, a document's stats, database shards and hubs, and destroy — through the JSON
 * routes an admin page uses.
 */
import { describe, expect, it } from "vitest"
import * as Y from "yjs"
import { inspectorHandler, type ResourcePage, type RoomDetails, type DocumentDetails, type DatabaseOverview, type HubPage, type HubState, type HubSummary } from "../src/index.js"
import { post, postsGrant, subscribe, testDb } from "./db-helpers.js"
import { uniqueId } from "./helpers.js"
import { eventually } from "./live-helpers.js"
import { inspectInstance } from "./worker.js"

const inspect = inspectorHandler(inspectInstance, { prefix: "/admin/realtime", databases: [testDb] })

const call = async <A>(path: string, init?: RequestInit): Promise<{ status: number; body: A }> => {
  const response = await inspect(new Request(`http://example.com/admin/realtime${path}`, init))
  if (response === undefined) throw new Error(`no inspector route for ${path}`)
  return { status: response.status, body: (await response.json()) as A }
}

describe("inspector", () => {
  it("lists rooms, channels and documents from the directory, paged and filtered, and shows a room's members, presence and last messages", async () => {
    const prefix = uniqueId("insp")
    const rooms = [`${prefix}-a`, `${prefix}-b`, `${prefix}-c`]
    for (const id of rooms) await inspectInstance.room(id).publish({ type: "chat", data: { text: `hello ${id}` } })
    await inspectInstance.room(rooms[0]).join({ actor: { type: "user", id: "ada", name: "Ada" }, presence: { cursor: { x: 1, y: 2 } } })
    await inspectInstance.room(rooms[0]).join({ actor: { type: "user", id: "bob", name: "Bob" } })
    await inspectInstance.channel(`${prefix}-feed`).publish({ type: "deploy", data: { n: 1 } })
    const doc = new Y.Doc()
    doc.getText("t").insert(0, "inspected text")
    await inspectInstance.crdtRoom(`${prefix}-doc`).applyYjsUpdate({ updateBase64: btoa(String.fromCharCode(...Y.encodeStateAsUpdate(doc))) })
    // A document reports to the directory when someone joins or connects (an HTTP update alone does not).
    await inspectInstance.crdtRoom(`${prefix}-doc`).join({ actor: { type: "user", id: "cy" } })

    // Reports reach the directory within about 200 ms.
    const all = await eventually(async () => {
      const { body } = await call<ResourcePage>("/resources?limit=100")
      const mine = body.resources.filter((resource) => resource.id.startsWith(prefix))
      return mine.length === 5 && mine.find((r) => r.id === rooms[0])?.members === 2 ? mine : undefined
    }, 5000, "5 resources reported")
    expect(all.map((r) => `${r.kind}:${r.id.slice(prefix.length)}`)).toEqual(["channel:-feed", "crdtRoom:-doc", "room:-a", "room:-b", "room:-c"])
    expect(all.find((r) => r.id === rooms[0])).toMatchObject({ kind: "room", messages: 1, members: 2, destroyed: false })

    // Paging by keyset: one at a time, every room once.
    const paged: Array<string> = []
    let cursor: string | null = null
    do {
      const { body }: { body: ResourcePage } = await call<ResourcePage>(`/resources?kind=room&limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`)
      expect(body.resources.length).toBeLessThanOrEqual(1)
      paged.push(...body.resources.map((r) => r.id))
      cursor = body.nextCursor
    } while (cursor !== null)
    expect(paged.filter((id) => id.startsWith(prefix))).toEqual(rooms)
    expect(new Set(paged).size).toBe(paged.length)

    const { body: room } = await call<RoomDetails>(`/rooms/${encodeURIComponent(rooms[0])}`)
    expect(room.members.map((m) => m.actor.name).sort()).toEqual(["Ada", "Bob"])
    expect(room.members.find((m) => m.actor.id === "ada")?.presence).toEqual({ cursor: { x: 1, y: 2 } })
    expect(room.lastMessages.map((m) => (m.data as { text: string }).text)).toEqual([`hello ${rooms[0]}`])
    expect(room.state.status).toBe("active")

    const { body: document } = await call<DocumentDetails>(`/documents/${encodeURIComponent(`${prefix}-doc`)}`)
    expect(document.document.storedBytes).toBeGreaterThan(0)
    expect(document.document.lastSeq).toBe(1)
    expect(document.document.awarenessClients).toBe(0)

    const { body: stats } = await call<{ rooms: number; channels: number }>("/stats")
    expect(stats.rooms).toBeGreaterThanOrEqual(4)
  })

  it("destroys a room from the inspector: it leaves the default listing and refuses writes", async () => {
    const id = uniqueId("insp-destroy")
    await inspectInstance.room(id).publish({ type: "chat", data: {} })
    const destroyed = await call<{ status: string }>(`/rooms/${encodeURIComponent(id)}/destroy`, { method: "POST", body: JSON.stringify({ deleteHistory: true }) })
    expect(destroyed).toMatchObject({ status: 200, body: { status: "destroyed" } })
    await expect(inspectInstance.room(id).publish({ type: "chat" })).rejects.toMatchObject({ _tag: "RoomDestroyed" })
    await eventually(async () => {
      const listed = (await call<ResourcePage>("/resources?kind=room&limit=100&includeDestroyed=true")).body.resources.find((r) => r.id === id)
      return listed?.destroyed === true ? true : undefined
    }, 5000, "destroyed in the index")
    const visible = (await call<ResourcePage>("/resources?kind=room&limit=100")).body.resources.map((r) => r.id)
    expect(visible).not.toContain(id)
  })

  it("shows a database's shards with their outbox backlog and a hub's position and subscribers", async () => {
    const tenant = uniqueId("insp-t")
    const grant = await postsGrant({ tenantId: tenant })
    const socket = await subscribe(grant.url, grant.protocols)
    await testDb.table("posts").insert(post(tenant, "i1"))
    await socket.waitChanges(1)
    const { body: databases } = await call<ReadonlyArray<DatabaseOverview>>("/databases")
    expect(databases[0].name).toBe("dbtest")
    expect(databases[0].shards.map((shard) => shard.shard)).toEqual([0, 1, 2])
    for (const shard of databases[0].shards) expect(shard.pending).toBeGreaterThanOrEqual(0)
    expect(databases[0].tables.find((table) => table.name === "posts")).toMatchObject({ access: "private", requiredFilters: ["tenantId"] })
    // Tables without required filters have one hub each, listed with its position.
    expect(databases[0].hubs.map((hub) => hub.table)).toEqual(["notes"])
    expect(databases[0].hubs[0].seq).toBeGreaterThanOrEqual(0)

    const { body: hub } = await call<HubState>(`/databases/dbtest/hubs/posts?filters=${encodeURIComponent(JSON.stringify({ tenantId: tenant }))}`)
    expect(hub).toMatchObject({ table: "posts", seq: 1, connections: 1 })
    socket.close()
  })

  it("lists the hubs of a partitioned table, one per tenant, with their filters and subscriber counts, paged", async () => {
    const [alpha, beta] = [uniqueId("insp-hub-a"), uniqueId("insp-hub-b")]
    const grantA = await postsGrant({ tenantId: alpha })
    const grantB = await postsGrant({ tenantId: beta })
    const sockets = [await subscribe(grantA.url, grantA.protocols), await subscribe(grantA.url, grantA.protocols), await subscribe(grantB.url, grantB.protocols)]
    await testDb.table("posts").insert(post(alpha, "h1"))
    await testDb.table("posts").insert(post(beta, "h2"))
    await Promise.all(sockets.map((socket) => socket.waitChanges(1)))

    // Other db tests share this database: walk every page, keep this test's two tenants.
    const listed = async (limit: number) => {
      const hubs: Array<HubSummary> = []
      let cursor: string | null = null
      do {
        const { status, body }: { status: number; body: HubPage } = await call<HubPage>(`/databases/dbtest/hubs?limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`)
        expect(status).toBe(200)
        expect(body.hubs.length).toBeLessThanOrEqual(limit)
        hubs.push(...body.hubs)
        cursor = body.nextCursor
      } while (cursor !== null)
      return hubs
    }
    const mine = (hubs: ReadonlyArray<HubSummary>) => hubs.filter((hub) => hub.filters !== null && (hub.filters.tenantId === alpha || hub.filters.tenantId === beta))
    const reported = await eventually(async () => {
      const hubs = mine(await listed(100))
      return hubs.length === 2 && hubs.every((hub) => hub.subscribers === (hub.filters?.tenantId === alpha ? 2 : 1)) ? hubs : undefined
    }, 5000, "both tenants' hubs reported with their subscribers")
    for (const hub of reported) {
      expect(hub).toMatchObject({ database: "dbtest", table: "posts", filters: { tenantId: hub.filters?.tenantId } })
      expect([alpha, beta]).toContain(hub.filters?.tenantId)
      // A tenant's partition lives in one of the 3 shards; its backlog is that shard's.
      expect(hub.shard).toBeGreaterThanOrEqual(0)
      expect(hub.shard).toBeLessThan(3)
      expect(hub.shardPending).toBeGreaterThanOrEqual(0)
    }
    // Keyset paging: a small page size lists each hub once.
    const small = await listed(2)
    expect(new Set(small.map((hub) => hub.hub)).size).toBe(small.length)
    expect(mine(small).map((hub) => hub.hub).sort()).toEqual(reported.map((hub) => hub.hub).sort())

    // A subscriber leaving is reported (the hub reports on subscriber changes, not on every change).
    sockets[0].close()
    await eventually(async () => ((mine(await listed(100)).find((hub) => hub.filters?.tenantId === alpha)?.subscribers ?? -1) === 1 ? true : undefined), 5000, "alpha down to one subscriber")
    // Hubs report to their database's own directory: the instance's counts do not include them.
    const { body: resources } = await call<ResourcePage>("/resources?limit=100")
    expect(resources.resources.filter((resource) => resource.kind === "tableHub")).toEqual([])
    for (const socket of sockets.slice(1)) socket.close()
    expect(await call("/databases/dbtest/hubs?limit=0")).toMatchObject({ status: 400, body: { error: { _tag: "InvalidInput" } } })
  })

  it("refuses what it cannot answer with typed errors: a forged cursor, a hub without its required filter, an unknown route", async () => {
    expect(await call("/resources?cursor=nonsense")).toMatchObject({ status: 400, body: { error: { _tag: "InvalidInput", field: "cursor" } } })
    expect(await call("/resources?limit=5000")).toMatchObject({ status: 400, body: { error: { _tag: "InvalidInput" } } })
    expect(await call("/databases/dbtest/hubs/posts")).toMatchObject({ status: 400, body: { error: { _tag: "InvalidInput", field: "filters.tenantId" } } })
    expect(await call("/databases/nope/hubs/posts")).toMatchObject({ status: 404 })
    expect(await call("/widgets")).toMatchObject({ status: 404, body: { error: { _tag: "NotFound" } } })
    expect(await inspect(new Request("http://example.com/elsewhere"))).toBeUndefined()
  })
})
