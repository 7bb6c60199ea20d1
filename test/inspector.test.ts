/**
 * The inspector: the directory's resource index (paged, filtered), a room's members, presence
 * and last messages, a document's stats, database shards and hubs, and destroy — through the JSON
 * routes an admin page uses.
 */
import { describe, expect, it } from "vitest"
import * as Y from "yjs"
import { inspectorHandler, type ResourcePage, type RoomDetails, type DocumentDetails, type DatabaseOverview, type HubState } from "../src/index.js"
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

  it("refuses what it cannot answer with typed errors: a forged cursor, a hub without its required filter, an unknown route", async () => {
    expect(await call("/resources?cursor=nonsense")).toMatchObject({ status: 400, body: { error: { _tag: "InvalidInput", field: "cursor" } } })
    expect(await call("/resources?limit=5000")).toMatchObject({ status: 400, body: { error: { _tag: "InvalidInput" } } })
    expect(await call("/databases/dbtest/hubs/posts")).toMatchObject({ status: 400, body: { error: { _tag: "InvalidInput", field: "filters.tenantId" } } })
    expect(await call("/databases/nope/hubs/posts")).toMatchObject({ status: 404 })
    expect(await call("/widgets")).toMatchObject({ status: 404, body: { error: { _tag: "NotFound" } } })
    expect(await inspect(new Request("http://example.com/elsewhere"))).toBeUndefined()
  })
})
