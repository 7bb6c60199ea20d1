/**
 * Bench-only: this library's room with SQLite rows counted, for the `publish` and `history`
 * workloads. src/ is untouched: `CountedRealtimeRoom` hands `RealtimeRoom` a `ctx` whose
 * `storage.sql.exec` wraps the real one and sums each cursor's `rowsRead`/`rowsWritten` (read
 * after the library drains it with `toArray()`). Everything else is the real object (functions
 * bound to their real targets, so native methods keep working).
 *
 * Bench paths, answered before `RealtimeRoom.fetch`:
 * - `GET  /__bench/stats` → `{ rowsRead, rowsWritten, statements }`; `?log=1` also returns the
 *   statements seen since the last `?reset=1` (with their rows), to see what one publish runs.
 * - `POST /__bench/seed?from=&to=&epoch=` → inserts history rows `from..to` straight into the
 *   library's own `messages` table (its migration statements, its row format) before the actor
 *   first boots, so the log's boot-time `MAX(seq)` and stored epoch are consistent with them.
 */
import { messageLogMigration } from "../src/actors/messaging/MessageLog.js"
import { metaMigration } from "../src/storage/Meta.js"
import { RealtimeRoom } from "../src/durable/index.js"
import { objectName } from "../src/internal/rpc.js"
import { realtime } from "../src/index.js"

/** Rate budgets (frames and bytes, per connection and per actor) off the load generator's path. */
const UNTHROTTLED = { perSecond: 1_000_000, burst: 1_000_000, bytesPerSecond: 1e12, bytesBurst: 1e12 }

export const COUNTED_INSTANCE = "bench-counted"

/** Same limits as `bench` in bench/library.ts (no pruning at these depths, no socket rate limit), on the counted class. */
export const counted = realtime({
  name: COUNTED_INSTANCE,
  historyLimit: 2_000_000,
  rateLimit: UNTHROTTLED,
  actorRateLimit: UNTHROTTLED,
  bindings: { rooms: "COUNTED_ROOMS" },
})

type Counters = { rowsRead: number; rowsWritten: number; statements: number; log: Array<{ query: string; read: number; written: number }> | undefined }

/**
 * Make `ctx.storage.sql.exec` count rows. `ctx` itself must stay the real object (the
 * DurableObject base class refuses anything else), so `storage` is shadowed by an own property
 * holding a proxy of the real storage; every other member is the real one.
 */
const countRows = (ctx: DurableObjectState, counters: Counters): void => {
  const realSql = ctx.storage.sql
  const exec = (query: string, ...params: Array<SqlStorageValue>) => {
    const cursor = realSql.exec(query, ...params)
    // The library drains every cursor with toArray(); count once that has happened.
    const toArray = cursor.toArray.bind(cursor)
    return new Proxy(cursor, {
      get(target, key) {
        if (key === "toArray")
          return () => {
            const rows = toArray()
            record(query, target.rowsRead, target.rowsWritten)
            return rows
          }
        if (key === "rowsWritten" || key === "rowsRead") {
          // `run` reads rowsWritten without toArray (the statement has run by then).
          const value = target[key]
          if (key === "rowsWritten") record(query, target.rowsRead, value)
          return value
        }
        const value = Reflect.get(target, key, target)
        return typeof value === "function" ? value.bind(target) : value
      },
    })
  }
  const record = (query: string, read: number, written: number) => {
    counters.rowsRead += read
    counters.rowsWritten += written
    counters.statements++
    counters.log?.push({ query: query.replace(/\s+/g, " ").slice(0, 120), read, written })
  }
  const sql = new Proxy(realSql, {
    get: (target, key) => (key === "exec" ? exec : bound(target, key)),
  })
  const storage = new Proxy(ctx.storage, {
    get: (target, key) => (key === "sql" ? sql : bound(target, key)),
  })
  Object.defineProperty(ctx, "storage", { value: storage, configurable: true })
}

const bound = (target: object, key: string | symbol) => {
  const value = Reflect.get(target, key, target)
  return typeof value === "function" ? value.bind(target) : value
}

export class CountedRealtimeRoom extends RealtimeRoom {
  readonly #counters: Counters
  readonly #realStorage: DurableObjectStorage

  constructor(ctx: DurableObjectState, env: unknown) {
    const counters: Counters = { rowsRead: 0, rowsWritten: 0, statements: 0, log: undefined }
    const realStorage = ctx.storage
    countRows(ctx, counters)
    super(ctx, env)
    this.#counters = counters
    this.#realStorage = realStorage
  }

  override async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url)
    if (url.pathname === "/__bench/stats") {
      const { log, ...totals } = this.#counters
      if (url.searchParams.get("reset") === "1") this.#counters.log = url.searchParams.get("log") === "1" ? [] : undefined
      return Response.json({ ...totals, log })
    }
    if (url.pathname === "/__bench/seed") return this.seed(url)
    return super.fetch(request)
  }

  /** Rows `from..to` in the library's `messages` format, and the epoch their ids name, before first boot. */
  private seed(url: URL): Response {
    const sql = this.#realStorage.sql
    const from = Number(url.searchParams.get("from"))
    const to = Number(url.searchParams.get("to"))
    const epoch = url.searchParams.get("epoch") ?? "seedepoch000"
    for (const statement of [...metaMigration.statements, ...messageLogMigration.statements]) sql.exec(statement)
    // A booted actor keeps lastSeq in memory: seeding under it would make the log inconsistent.
    if (sql.exec("SELECT 1 FROM _meta WHERE key = 'address'").toArray().length > 0) {
      return new Response("seed: this room's actor has already booted", { status: 409 })
    }
    sql.exec("INSERT INTO _meta (key, value) VALUES ('epoch', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", JSON.stringify(epoch))
    sql.exec(
      `WITH RECURSIVE n(x) AS (SELECT ? UNION ALL SELECT x + 1 FROM n WHERE x < ?)
       INSERT INTO messages (seq, id, type, data, metadata, actor, created_at, idempotency_key)
       SELECT x, 'msg_' || ? || '_' || x, 'm', '{"n":' || x || ',"text":"seeded history message"}', NULL, '{"type":"user","id":"seed"}', 1767225600000, NULL FROM n`,
      from,
      to,
      epoch,
    )
    const total = sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM messages").one().n
    return Response.json({ rows: total })
  }
}

/** The counted room's Durable Object for a room id (the library's own naming). */
const countedStub = (env: Record<string, unknown>, id: string) => {
  const namespace = env.COUNTED_ROOMS as DurableObjectNamespace
  return namespace.get(namespace.idFromName(objectName(COUNTED_INSTANCE, "room", id)))
}

/**
 * `/bench-persist/...` routes:
 * - `GET /bench-persist/grant/{id}?user=` a grant on the counted instance;
 * - `GET|POST /bench-persist/counted/{id}/__bench/...` the counted room's stats / seed;
 * - `GET /bench-persist/history/{id}?limit=&cursor=&direction=` one page via the facade;
 * - `GET /bench-persist/walk/{library|floor}/{id}?limit=&pages=&direction=` that many pages in a row,
 *   each through the previous page's cursor, from inside the Worker: one HTTP request for many pages
 *   so wrangler dev's fixed per-request CPU does not drown the per-page cost.
 */
export const persistRoute = async (request: Request, env: Record<string, unknown>, url: URL): Promise<Response | undefined> => {
  if (!url.pathname.startsWith("/bench-persist/")) return undefined
  const [, , kind, rawId, ...rest] = url.pathname.split("/")
  const id = decodeURIComponent(rawId ?? "")
  if (kind === "grant") {
    const actor = { type: "user" as const, id: url.searchParams.get("user") ?? "bench" }
    return Response.json(await counted.room(id).authorize({ actor, permissions: ["read", "publish"], ttlSeconds: 3600 }))
  }
  if (kind === "counted") {
    return countedStub(env, id).fetch(new Request(`http://bench/${rest.join("/")}${url.search}`, { method: request.method }))
  }
  if (kind === "history") {
    const page = await counted.room(id).history({
      limit: Number(url.searchParams.get("limit") ?? 50),
      cursor: url.searchParams.get("cursor"),
      direction: url.searchParams.get("direction") === "forward" ? "forward" : "backward",
    })
    return Response.json(page)
  }
  if (kind === "walk") return walk(env, id, decodeURIComponent(rest[0] ?? ""), url)
  return new Response("not found", { status: 404 })
}

type Page = { readonly messages: ReadonlyArray<{ readonly seq: number }>; readonly nextCursor: string | null }

const walk = async (env: Record<string, unknown>, kind: string, id: string, url: URL): Promise<Response> => {
  const limit = Number(url.searchParams.get("limit") ?? 50)
  const pages = Number(url.searchParams.get("pages") ?? 20)
  const direction = url.searchParams.get("direction") === "forward" ? "forward" : "backward"
  const floors = env.FLOOR_KEYSET_HISTORY as DurableObjectNamespace
  const page = async (cursor: string | null): Promise<Page> => {
    if (kind === "library") return counted.room(id).history({ limit, cursor, direction })
    const query = new URLSearchParams({ limit: String(limit), direction, ...(cursor === null ? {} : { cursor }) })
    return (await floors.get(floors.idFromName(id)).fetch(`http://floor/history?${query}`)).json()
  }
  const seqs: Array<number> = []
  let cursor: string | null = null
  for (let index = 0; index < pages; index++) {
    const next: Page = await page(cursor)
    for (const message of next.messages) seqs.push(message.seq)
    cursor = next.nextCursor
    if (cursor === null) break
  }
  return Response.json({ count: seqs.length, first: seqs[0] ?? null, last: seqs[seqs.length - 1] ?? null })
}
