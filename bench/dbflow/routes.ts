/**
 * HTTP routes of the db workload. The load generator writes through HTTP (one request per write,
 * for both targets, so the Worker's per-request cost is the same on each side):
 *
 * - `POST /dbflow/{library|in-shard}/write` (JSON row) → `dbflow.table("posts").insert(row)`, the Promise API
 *   (`in-shard`: the same table declared with `streamFrom: "shard"`, database `dbflow_in_shard`)
 * - `GET /dbflow/{library|in-shard}/grant/{tenant}` → `realtime.authorize(...)` for one tenant's changes
 * - `GET /dbflow/{library|in-shard}/rows/{tenant}` → rows written by the shard and the tenant's hub since the last call
 * - `POST /dbflow/burst/{library|in-shard|floor}/{runId}?tenant=&rate=&count=&from=&batch=` → the same writes issued by the
 *   Worker itself at a fixed open-loop rate, one HTTP request for the whole run: the figures without
 *   the per-request cost of `wrangler dev` (each row's title carries its scheduled epoch ms); `batch` rows per
 *   call go as one `insertMany(rows)` (library) / `writeMany(rows)` (floor)
 * - `GET /dbflow/empty` → 204: what an HTTP request costs through `wrangler dev` with no work behind it
 * - `/realtime-db` → the database's change-stream route (`dbflow.handler`)
 * - `POST /dbflow/burst/floor-two-hop/{runId}` → the two-hop floor (floorTwoHop.ts): the floor object's commit, its change
 *   sent on to a second plain object (`/floor/dbflow-hub/{runId}/...`) that buffers it and sends the frame
 * - `/floor/dbflow/{id}/...` → the row + outbox floor object
 */
import { objectName } from "../../src/internal/rpc.js"
import { hubIdOfFilters, shardId } from "../../src/db/Placement.js"
import type { BenchRoute } from "../routes.js"
import { ROWS_HEADER } from "./counted.js"
import { dbflow, dbflowInShard } from "./schema.js"

const databases = { library: dbflow, "in-shard": dbflowInShard } as const

const rowsOf = async (database: typeof dbflow, namespace: DurableObjectNamespace, kind: string, id: string) => {
  const stub = namespace.get(namespace.idFromName(objectName(database.definition.instance, kind, id)))
  return (await (await stub.fetch("http://dbflow/rows", { headers: { [ROWS_HEADER]: "take" } })).json()) as { rowsWritten: number; byStatement: Record<string, number> }
}

type Row = { readonly id: string; readonly tenantId: string; readonly title: string }
type FloorStub = { write(row: Row): Promise<number>; writeMany(rows: ReadonlyArray<Row>): Promise<number>; writeViaHub(row: Row, hub: string): Promise<number> }

/**
 * Issue `count` writes at `rate` rows/s from inside the Worker, open loop (a slow write never delays
 * the next), `batch` rows per call (1: one `insert` per row; more: one `insertMany` / `writeMany`
 * per `batch` rows, due every `batch / rate` seconds).
 */
const burst = async (write: (rows: ReadonlyArray<Row>) => Promise<unknown>, runId: string, tenantId: string, rate: number, count: number, from = 0, batch = 1) => {
  const start = Date.now()
  const pending: Array<Promise<unknown>> = []
  let failed = 0
  for (let index = 0; index < count; index += batch) {
    const due = start + (index * 1000) / rate
    const wait = due - Date.now()
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
    const rows = Array.from({ length: Math.min(batch, count - index) }, (_, offset) => ({ id: `${runId}-${from + index + offset}`, tenantId, title: `due:${Math.round(due)}` }))
    pending.push(write(rows).catch(() => (failed += rows.length)))
  }
  await Promise.all(pending)
  return { writes: count, failed }
}

const burstRoute: BenchRoute = async (request, env, url) => {
  const match = /^\/dbflow\/burst\/(library|in-shard|floor|floor-two-hop)\/([^/]+)$/.exec(url.pathname)
  if (match === null || request.method !== "POST") return undefined
  const [, target, runId] = match
  const tenantId = url.searchParams.get("tenant") ?? "t"
  const rate = Number(url.searchParams.get("rate") ?? 100)
  const count = Number(url.searchParams.get("count") ?? 300)
  // `from`: the first row index (a ramp's later steps write to the same object and tenant with new ids).
  const from = Number(url.searchParams.get("from") ?? 0)
  const batch = Math.max(1, Math.min(100, Number(url.searchParams.get("batch") ?? 1)))
  if (target === "library" || target === "in-shard") {
    const database = databases[target]
    const posts = database.table("posts")
    // The request made ambient, as `database.worker(...)` does for an app's routes (its writes share a stub per shard).
    return database.withRequest(request, async () => Response.json(await burst((rows) => (rows.length === 1 ? posts.insert(rows[0]!) : posts.insertMany(rows)), runId!, tenantId, rate, count, from, batch)))
  }
  const namespace = env.DBFLOW_FLOOR as DurableObjectNamespace
  const floor = namespace.get(namespace.idFromName(runId!)) as unknown as FloorStub
  // The two-hop floor: the same first object, its changes sent on to the hub floor object named by the run.
  if (target === "floor-two-hop") return Response.json(await burst((rows) => Promise.all(rows.map((row) => floor.writeViaHub(row, runId!))), runId!, tenantId, rate, count, from, batch))
  return Response.json(await burst((rows) => (rows.length === 1 ? floor.write(rows[0]!) : floor.writeMany(rows)), runId!, tenantId, rate, count, from, batch))
}

const libraryRoute: BenchRoute = async (request, env, url) => {
  if (url.pathname === "/dbflow/empty") return new Response(null, { status: 204 })
  const write = /^\/dbflow\/(library|in-shard)\/write$/.exec(url.pathname)
  if (write !== null && request.method === "POST") {
    const row = (await request.json()) as { id: string; tenantId: string; title: string }
    return Response.json(await databases[write[1] as keyof typeof databases].table("posts").insert(row))
  }
  const grant = /^\/dbflow\/(library|in-shard)\/grant\/([^/]+)$/.exec(url.pathname)
  if (grant !== null) {
    const tenantId = decodeURIComponent(grant[2]!)
    return Response.json(await databases[grant[1] as keyof typeof databases].realtime.authorize({ table: "posts", filters: { tenantId }, actor: { type: "user", id: "bench" }, ttlSeconds: 3600 }))
  }
  const rows = /^\/dbflow\/(library|in-shard)\/rows\/([^/]+)$/.exec(url.pathname)
  if (rows !== null) {
    const database = databases[rows[1] as keyof typeof databases]
    const tenantId = decodeURIComponent(rows[2]!)
    const table = database.definition.tables.get("posts")!
    const shard = await rowsOf(database, env.DBFLOW_SHARDS as DurableObjectNamespace, "dbShard", shardId(0))
    // A table streamed from its shard has no hub: nothing to count there (asking would create the object).
    const hub = table.realtime?.streamFrom === "shard" ? { rowsWritten: 0, byStatement: {} } : await rowsOf(database, env.DBFLOW_HUBS as DurableObjectNamespace, "tableHub", hubIdOfFilters(table, { tenantId }))
    return Response.json({ shard, hub })
  }
  return undefined
}

/**
 * `/floor/dbflow/{id}/...` → the floor object named id, `/floor/dbflow-hub/{id}/...` → the two-hop floor's second object
 * (bench/routes.ts's forwardTo, not imported: that module imports this one).
 */
const floorRoute: BenchRoute = async (request, env, url) => {
  const match = /^\/floor\/(dbflow|dbflow-hub)\/([^/]+)\//.exec(url.pathname)
  if (match === null) return undefined
  const namespace = (match[1] === "dbflow" ? env.DBFLOW_FLOOR : env.DBFLOW_FLOOR_HUB) as DurableObjectNamespace
  return namespace.get(namespace.idFromName(decodeURIComponent(match[2]!))).fetch(request)
}

export const dbflowRoutes: Array<BenchRoute> = [libraryRoute, burstRoute, (request, env) => dbflow.handler(request, env), floorRoute]
