/**
 * Worker-side live routes: WebSocket upgrades and SSE streams for rooms and channels.
 *
 * ```
 * GET {prefix}/{instance}/rooms/{id}/ws         GET {prefix}/{instance}/channels/{id}/ws
 * GET {prefix}/{instance}/rooms/{id}/events     GET {prefix}/{instance}/channels/{id}/events
 * GET {prefix}/{instance}/crdt/{id}/ws|events    GET {prefix}/{instance}/crdt/{id}/yjs   (y-websocket)
 * ```
 *
 * The grant is verified here, before anything reaches the Durable Object: a missing, expired,
 * tampered, wrong-audience, `alg: none` or other-room token is answered with 401 and no socket
 * is ever accepted. The verified grant (actor, permissions, expiry) is then forwarded in a header
 * this handler always overwrites, so a client cannot forge it.
 *
 * @example
 * ```ts
 * import { liveHandler } from "durable-realtime"
 * const live = liveHandler()
 * export default { async fetch(request, env) { return (await live(request, env)) ?? new Response("not found", { status: 404 }) } }
 * ```
 *
 * @since 0.1.0
 */
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Effect, Schema } from "effect"
import { lookupInstance } from "../Config.js"
import { Forbidden, InvalidInput, NotFound, Unauthorized, toResponse, type RealtimeError } from "../RealtimeError.js"
import { LiveHeaders, type ForwardedGrant } from "../schema/LiveGrant.js"
import { forwardToActor, type ActorNamespace } from "../internal/rpc.js"
import { ResourceId } from "../schema/Common.js"
import { DEFAULT_ROUTE_PREFIX, TOKEN_PROTOCOL_PREFIX, type LivePermission } from "../schema/Protocol.js"
import * as Grants from "../services/Grants.js"
import { workersEnv } from "../internal/workersEnv.js"

const PathParams = Schema.Struct({
  instance: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(128)),
  kind: Schema.Literal("rooms", "channels", "crdt"),
  id: ResourceId,
  transport: Schema.Literal("ws", "events", "yjs"),
})

const livePermissions: ReadonlyArray<string> = ["read", "publish", "presence", "write"]

const kindOf = { rooms: "room", channels: "channel", crdt: "crdtRoom" } as const

/** The grant token of a live request: a subprotocol for sockets, a bearer header (or `access_token`) for SSE. */
export const tokenOf = (request: Request, transport: "ws" | "events" | "yjs"): string => {
  if (transport !== "events") {
    const offered = (request.headers.get("Sec-WebSocket-Protocol") ?? "").split(",").map((value) => value.trim())
    const tokens = offered.filter((value) => value.startsWith(TOKEN_PROTOCOL_PREFIX))
    // Two tokens is never a client mistake worth guessing about: which one would be checked and
    // which one logged downstream is exactly what an attacker wants to choose. Refuse both.
    return tokens.length === 1 ? tokens[0]!.slice(TOKEN_PROTOCOL_PREFIX.length) : ""
  }
  const header = request.headers.get("Authorization") ?? ""
  if (/^Bearer /i.test(header)) return header.slice(7).trim()
  return new URL(request.url).searchParams.get("access_token") ?? ""
}

/** Verify and forward one live request. */
export const handleLive = (
  request: Request,
  params: typeof PathParams.Type,
  env: Record<string, unknown>,
): Effect.Effect<Response, RealtimeError> =>
  Effect.gen(function* () {
    // The instance comes from the URL: one this Worker never declared is the client's mistake.
    const config = lookupInstance(params.instance)
    if (config === undefined) return yield* new NotFound({ what: "instance", message: `instance: no instance "${params.instance}" here` })
    const kind = kindOf[params.kind]
    if (params.transport === "yjs" && kind !== "crdtRoom") {
      return yield* new InvalidInput({ field: "transport", message: "transport: only CRDT rooms speak y-websocket" })
    }
    if (params.transport !== "events" && request.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
      return yield* new InvalidInput({ field: "upgrade", message: "upgrade: this route takes a WebSocket upgrade" })
    }
    // No secret: a ConfigurationError (500, logged once), never a socket and never the dev key.
    const grants = yield* Grants.fromEnv(env)
    const token = tokenOf(request, params.transport)
    const verified = yield* grants.verify(token, { type: kind, instance: params.instance, resource: params.id })
    if (!verified.permissions.includes("read")) return yield* new Forbidden({ message: "this grant cannot subscribe (no read permission)" })
    const binding = kind === "room" ? config.bindings.rooms : kind === "channel" ? config.bindings.channels : config.bindings.crdtRooms
    const namespace = env[binding] as ActorNamespace | undefined
    if (namespace === undefined) return yield* new InvalidInput({ field: "kind", message: `kind: no Durable Object binding for ${kind}s` })
    const grant: ForwardedGrant = {
      actor: verified.actor,
      permissions: verified.permissions.filter((permission): permission is LivePermission => livePermissions.includes(permission)),
      expiresAt: verified.expiresAt,
    }
    const headers = new Headers(request.headers)
    headers.set(LiveHeaders.grant, JSON.stringify(grant))
    headers.set(LiveHeaders.transport, params.transport === "ws" ? "websocket" : params.transport === "yjs" ? "yjs" : "sse")
    // The token was checked: it does not travel further (and never into a log line).
    headers.delete("Authorization")
    headers.delete("Sec-WebSocket-Protocol")
    const url = new URL(request.url)
    url.searchParams.delete("access_token")
    const forwarded = new Request(url.toString(), { method: "GET", headers })
    return yield* Effect.tryPromise({
      try: () => forwardToActor(namespace, kind, { instance: params.instance, id: params.id }, forwarded),
      catch: (cause) => new Unauthorized({ reason: "invalid", message: `could not reach the ${kind}: ${String(cause).slice(0, 200)}` }),
    })
  })

/** The live routes as an @effect/platform router. */
export const liveRouter = (options: { readonly prefix?: string; readonly env?: Record<string, unknown> } = {}) => {
  const prefix = options.prefix ?? DEFAULT_ROUTE_PREFIX
  const route = Effect.gen(function* () {
    const params = yield* Effect.mapError(HttpRouter.schemaPathParams(PathParams), () => new InvalidInput({ field: "path", message: "path: not a live route" }))
    const serverRequest = yield* HttpServerRequest.HttpServerRequest
    const source = serverRequest.source
    if (!(source instanceof Request)) return yield* new InvalidInput({ field: "request", message: "request: not a fetch Request" })
    const response = yield* handleLive(source, params, options.env ?? workersEnv())
    return HttpServerResponse.raw(response)
  }).pipe(Effect.catchAll((error) => Effect.succeed(HttpServerResponse.raw(toResponse(error)))))
  return HttpRouter.empty.pipe(HttpRouter.get(`${prefix}/:instance/:kind/:id/:transport` as `/${string}`, route))
}

const transportsOf: ReadonlyMap<string, ReadonlyArray<string>> = new Map([
  ["rooms", ["ws", "events"]],
  ["channels", ["ws", "events"]],
  ["crdt", ["ws", "events", "yjs"]],
])

/** The path segments of a live route, `[instance, kind, id, transport]` as they appear in the URL, or `undefined` for any other request. */
const liveSegments = (request: Request, url: URL, prefix: string): readonly [string, string, string, string] | undefined => {
  if (request.method !== "GET" || !url.pathname.startsWith(`${prefix}/`)) return undefined
  const [instance, kind, id, transport, ...rest] = url.pathname.slice(prefix.length + 1).split("/")
  if (rest.length > 0 || instance === undefined || id === undefined || kind === undefined || transport === undefined) return undefined
  return transportsOf.get(kind)?.includes(transport) === true ? [instance, kind, id, transport] : undefined
}

/**
 * Whether a request is one of the live routes: `GET {prefix}/{instance}/{kind}/{id}/{transport}`
 * with a kind and a transport of that kind. Anything else under the prefix belongs to the app
 * (`POST /realtime/posts/token` of the database document is a route of the app's own).
 */
export const isLiveRoute = (request: Request, url: URL, prefix: string): boolean => liveSegments(request, url, prefix) !== undefined

const decodePathParams = Schema.decodeUnknownEither(PathParams)
const notALiveRoute = () => new InvalidInput({ field: "path", message: "path: not a live route" })

/** The path parameters of a live route's segments (percent-decoded, then checked as the router does). */
const pathParamsOf = (segments: readonly [string, string, string, string]): Effect.Effect<typeof PathParams.Type, InvalidInput> => {
  const decoded: Array<string> = []
  for (const segment of segments) {
    try {
      decoded.push(decodeURIComponent(segment))
    } catch {
      return Effect.fail(notALiveRoute())
    }
  }
  const [instance, kind, id, transport] = decoded
  return Effect.mapError(decodePathParams({ instance, kind, id, transport }), notALiveRoute)
}

/**
 * A fetch handler for the live routes: answers them, and resolves `undefined` for any other
 * request — other paths, other methods, and paths under the prefix that are not live routes — so
 * it composes with the rest of a Worker.
 *
 * It serves the one route itself rather than through `liveRouter`: the path is already split
 * to tell a live route from the app's, and an @effect/platform app per request (server request,
 * router, middleware, response conversion) was a fifth of the Worker's CPU for each socket that
 * connects (bench/notes/yjs-join.md). Same checks, same errors and statuses.
 */
export const liveHandler = (options: { readonly prefix?: string } = {}) => {
  const prefix = options.prefix ?? DEFAULT_ROUTE_PREFIX
  return (request: Request, env?: unknown): Promise<Response | undefined> => {
    const segments = liveSegments(request, new URL(request.url), prefix)
    if (segments === undefined) return Promise.resolve(undefined)
    const scope = (env ?? workersEnv()) as Record<string, unknown>
    return Effect.runPromise(
      Effect.flatMap(pathParamsOf(segments), (params) => handleLive(request, params, scope)).pipe(
        Effect.catchAll((error) => Effect.succeed(toResponse(error))),
        Effect.catchAllDefect((defect) =>
          Effect.as(Effect.logError("live route failed", defect), new Response("durable-realtime: internal error", { status: 500 })),
        ),
      ),
    )
  }
}
