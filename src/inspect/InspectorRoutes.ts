/**
 * The inspector as JSON routes, for an admin page. It answers paths under `prefix` and resolves
 * `undefined` for any other, so it composes with the rest of a Worker — behind your own check:
 *
 * ```ts
 * const inspect = inspectorHandler(live, { prefix: "/admin/realtime", databases: [appDb] })
 * // in fetch:
 * if (url.pathname.startsWith("/admin/")) {
 *   if (!(await isAdmin(request))) return new Response("forbidden", { status: 403 })
 *   return (await inspect(request)) ?? new Response("not found", { status: 404 })
 * }
 * ```
 *
 * ```
 * GET  {prefix}/stats
 * GET  {prefix}/resources?kind=room|channel|crdtRoom&connectedOnly=true&includeDestroyed=true&limit=&cursor=
 * GET  {prefix}/rooms/{id}       GET {prefix}/channels/{id}       GET {prefix}/documents/{id}
 * POST {prefix}/rooms/{id}/destroy (also channels, documents; body { deleteHistory?: boolean })
 * GET  {prefix}/databases         GET {prefix}/databases/{name}/hubs/{table}?filters=<JSON>
 * GET  {prefix}/databases/{name}/hubs?limit=&cursor=   (every hub its directory lists, paged)
 * ```
 * Errors are `{ error: { _tag, ... } }` with the error's HTTP status.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import type { ResourceKind, ResourceListQuery } from "../schema/Resources.js"
import type { Realtime } from "../Realtime.js"
import { InvalidInput, isRealtimeError, NotFound, toResponse, type RealtimeError } from "../RealtimeError.js"
import { workersEnv } from "../internal/workersEnv.js"
import { Inspect, type InspectableDatabase } from "./Inspector.js"

/** What the handler needs of an instance: the Promise facade has it (`realtime({...})`). */
export interface InspectableInstance {
  readonly run: <A>(effect: Effect.Effect<A, RealtimeError, Realtime>) => Promise<A>
}

export interface InspectorOptions {
  /** Path prefix of the routes. Default `/inspector`. */
  readonly prefix?: string
  /** Databases whose shards and hubs to show (`db({...})` results). */
  readonly databases?: ReadonlyArray<InspectableDatabase>
  /** The Worker's env (for the database bindings). Default: `cloudflare:workers`' env. */
  readonly env?: Record<string, unknown>
}

const KINDS: Record<string, Exclude<ResourceKind, "tableHub">> = { rooms: "room", channels: "channel", documents: "crdtRoom" }

const decodeSegment = (segment: string): Effect.Effect<string, InvalidInput> =>
  Effect.try({ try: () => decodeURIComponent(segment), catch: () => new InvalidInput({ field: "id", message: "id: malformed percent-encoding" }) })

const readBody = (request: Request): Effect.Effect<Record<string, unknown>> =>
  Effect.promise(() => request.json().catch(() => ({}))).pipe(Effect.map((body) => (body !== null && typeof body === "object" && !Array.isArray(body) ? (body as Record<string, unknown>) : {})))

const listQuery = (params: URLSearchParams): ResourceListQuery => {
  const kind = params.get("kind")
  const limit = params.get("limit")
  return {
    ...(kind === null || kind === "" ? {} : { kind: kind as ResourceKind }),
    ...(params.get("connectedOnly") === "true" ? { connectedOnly: true } : {}),
    ...(params.get("includeDestroyed") === "true" ? { includeDestroyed: true } : {}),
    ...(limit === null ? {} : { limit: Number(limit) }),
    ...(params.get("cursor") ? { cursor: params.get("cursor") } : {}),
  }
}

/** Build the inspector's fetch handler for one instance. */
export const inspectorHandler = (instance: InspectableInstance, options: InspectorOptions = {}) => {
  const prefix = (options.prefix ?? "/inspector").replace(/\/+$/, "")
  const env = () => options.env ?? workersEnv()
  const databaseNamed = (name: string) => {
    const found = (options.databases ?? []).find((database) => database.name === name)
    return found === undefined ? Effect.fail(new NotFound({ what: "database", message: `the inspector was given no database ${name}` })) : Effect.succeed(found)
  }

  const route = (request: Request, path: string, params: URLSearchParams): Effect.Effect<unknown, RealtimeError, Realtime> | undefined => {
    const parts = path.split("/").filter((part) => part !== "")
    const get = request.method === "GET"
    if (get && parts.length === 1 && parts[0] === "stats") return Inspect.stats()
    if (get && parts.length === 1 && parts[0] === "resources") return Inspect.resources(listQuery(params))
    if (get && parts.length === 1 && parts[0] === "databases") return Effect.forEach(options.databases ?? [], (database) => Inspect.database(database, env()))
    if (get && parts.length === 3 && parts[0] === "databases" && parts[2] === "hubs") {
      return Effect.gen(function* () {
        const database = yield* databaseNamed(yield* decodeSegment(parts[1]))
        const limit = params.get("limit")
        return yield* Inspect.hubs(database, env(), { ...(limit === null ? {} : { limit: Number(limit) }), cursor: params.get("cursor") || null })
      })
    }
    if (get && parts.length === 4 && parts[0] === "databases" && parts[2] === "hubs") {
      return Effect.gen(function* () {
        const database = yield* databaseNamed(yield* decodeSegment(parts[1]))
        const table = yield* decodeSegment(parts[3])
        const filters = yield* Effect.try({
          try: () => JSON.parse(params.get("filters") ?? "{}") as Record<string, unknown>,
          catch: () => new InvalidInput({ field: "filters", message: "filters: must be a JSON object" }),
        })
        if (filters === null || typeof filters !== "object" || Array.isArray(filters)) return yield* new InvalidInput({ field: "filters", message: "filters: must be a JSON object" })
        return yield* Inspect.hub(database, env(), table, filters)
      })
    }
    const kind = KINDS[parts[0] ?? ""]
    if (kind === undefined || parts.length < 2) return undefined
    if (get && parts.length === 2) {
      return Effect.flatMap(decodeSegment(parts[1]), (id): Effect.Effect<unknown, RealtimeError, Realtime> =>
        kind === "room" ? Inspect.room(id) : kind === "channel" ? Inspect.channel(id) : Inspect.document(id),
      )
    }
    if (request.method === "POST" && parts.length === 3 && parts[2] === "destroy") {
      return Effect.gen(function* () {
        const id = yield* decodeSegment(parts[1])
        const body = yield* readBody(request)
        return yield* Inspect.destroy(kind, id, { deleteHistory: body.deleteHistory === true })
      })
    }
    return undefined
  }

  return async (request: Request): Promise<Response | undefined> => {
    const url = new URL(request.url)
    if (url.pathname !== prefix && !url.pathname.startsWith(`${prefix}/`)) return undefined
    const program = route(request, url.pathname.slice(prefix.length), url.searchParams)
    if (program === undefined) return toResponse(new NotFound({ what: "route", message: `no inspector route ${request.method} ${url.pathname}` }))
    try {
      return Response.json(await instance.run(program), { headers: { "cache-control": "no-store" } })
    } catch (error) {
      if (isRealtimeError(error)) return toResponse(error)
      throw error
    }
  }
}
