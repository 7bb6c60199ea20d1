/**
 * Worker-side route of database change streams: `GET {routePath}?namespace=&database=&table=&filters=`
 * (default `/realtime-db`), a WebSocket upgrade. See `db/Protocol.ts` for the contract.
 *
 * Everything about the subscription is decided here, before the hub ever sees the request: the
 * database and table exist and stream, the filters are well-formed JSON on declared filter columns,
 * required filters are present, and for a private table the grant is valid, for this namespace,
 * database and table, and the handshake neither changes its filters nor widens its events. Refusals
 * are HTTP errors (400/401/403/404) and no socket is accepted. The verified subscription travels to
 * the hub in a header this handler always overwrites.
 *
 * @since 0.1.0
 */
import { Effect, Schema } from "effect"
import { Forbidden, InvalidInput, invalidInputFromParseError, NotFound, Unauthorized, toResponse, type RealtimeError } from "../RealtimeError.js"
import { databaseDefinition, DEFAULT_ROUTE_PATH, type ChangeEvent } from "./Declaration.js"
import { DB_SUBPROTOCOL, DB_TOKEN_PROTOCOL_PREFIX } from "./Names.js"
import { streamHostOf } from "./Placement.js"
import { SubscriptionHeader, type Filters, type ForwardedSubscription } from "./Protocol.js"
import { MAX_LIMIT } from "./Query.js"
import { decodeEvents, decodeFilters, missingRequired, sameFilters } from "./Subscription.js"
import { forwardToActor, type ActorNamespace } from "../internal/rpc.js"
import { anonymousActor } from "../schema/Common.js"
import * as Grants from "../services/Grants.js"
import { workersEnv } from "../internal/workersEnv.js"

const Params = Schema.Struct({
  // Optional, as in the product document: most apps have one namespace.
  namespace: Schema.optionalWith(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(64)), { default: () => "default" }),
  database: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(64)),
  table: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(64)),
  filters: Schema.optional(Schema.String.pipe(Schema.maxLength(4096))),
  events: Schema.optional(Schema.String),
  since: Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.nonNegative())),
  snapshot: Schema.optional(Schema.Literal("true", "1", "false", "0")),
  limit: Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, MAX_LIMIT))),
  cursor: Schema.optional(Schema.String.pipe(Schema.maxLength(1024))),
})

const fail = (field: string, message: string) => new InvalidInput({ field, message: `${field}: ${message}` })

/** Verify one subscription request and forward it to the object streaming its partition (its hub, or its shard). */
export const handleSubscription = (request: Request, env: Record<string, unknown>): Effect.Effect<Response, RealtimeError> =>
  Effect.gen(function* () {
    if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") return yield* fail("upgrade", "this route takes a WebSocket upgrade")
    const url = new URL(request.url)
    const params = yield* Effect.mapError(Schema.decodeUnknown(Params)(Object.fromEntries(url.searchParams)), (error) => invalidInputFromParseError(error, "query"))
    const definition = databaseDefinition(`${params.namespace}/${params.database}`)
    if (definition === undefined) return yield* new NotFound({ what: "database", message: `no database ${params.database} in namespace ${params.namespace}` })
    const table = definition.tables.get(params.table)
    if (table === undefined || table.realtime === undefined) return yield* new NotFound({ what: "table", message: `${params.database} streams no table "${params.table}"` })

    let asked: Filters | undefined
    if (params.filters !== undefined) {
      const parsed = yield* Effect.try({ try: () => JSON.parse(params.filters!) as unknown, catch: () => fail("filters", "not valid JSON") })
      asked = yield* decodeFilters(table, parsed)
    }
    const askedEvents = params.events === undefined ? undefined : yield* decodeEvents(table, params.events.split(",").map((event) => event.trim()))

    let filters: Filters
    let events: ReadonlyArray<ChangeEvent>
    let actor = anonymousActor
    let actorMetadata: Record<string, unknown> | undefined
    let expiresAt: number | null = null
    const offered = (request.headers.get("Sec-WebSocket-Protocol") ?? "").split(",").map((value) => value.trim())
    const tokens = offered.filter((value) => value.startsWith(DB_TOKEN_PROTOCOL_PREFIX))
    // Which of two tokens gets checked (and which one a proxy logs) must never be the client's choice.
    if (tokens.length > 1) return yield* new Unauthorized({ reason: "invalid", message: "more than one grant token offered; send exactly one" })
    if (table.realtime.access === "private") {
      const token = tokens[0]?.slice(DB_TOKEN_PROTOCOL_PREFIX.length) ?? ""
      if (token === "") return yield* new Unauthorized({ reason: "missing", message: `${table.name} is private: connect with a grant from database.realtime.authorize` })
      const grants = yield* Grants.fromEnv(env)
      const grant = yield* grants.verify(token, { type: "table", instance: definition.instance, resource: table.name })
      if (!grant.permissions.includes("read")) return yield* new Forbidden({ message: "this grant cannot subscribe (no read permission)" })
      const granted = grant.filters === undefined ? {} : yield* Effect.mapError(decodeFilters(table, grant.filters, "grant.filters"), () => new Forbidden({ message: "the grant's filters are no longer valid for this table" }))
      if (asked !== undefined && !sameFilters(asked, granted)) return yield* new Forbidden({ message: "filters differ from the grant's; a grant's filters cannot be changed at connect" })
      const grantedEvents = (grant.events ?? table.realtime.events).filter((event) => table.realtime!.events.includes(event))
      if (askedEvents !== undefined && askedEvents.some((event) => !grantedEvents.includes(event))) {
        return yield* new Forbidden({ message: `events wider than the grant's (${grantedEvents.join(", ")})` })
      }
      filters = granted
      events = askedEvents ?? grantedEvents
      actor = grant.actor
      actorMetadata = grant.actorMetadata
      expiresAt = grant.expiresAt
      if (missingRequired(table, filters).length > 0) return yield* new Forbidden({ message: "the grant lacks a required filter" })
    } else {
      filters = asked ?? {}
      events = askedEvents ?? table.realtime.events
    }
    const missing = missingRequired(table, filters)
    if (missing.length > 0) return yield* fail(`filters.${missing[0]}`, `required filter of ${table.name} is missing`)
    const snapshot = params.snapshot === "true" || params.snapshot === "1"
    if (snapshot && params.since !== undefined) return yield* fail("since", "ask for a snapshot or resume with since, not both")

    const host = streamHostOf(definition, table, filters)
    const namespace = env[host.binding] as ActorNamespace | undefined
    if (namespace === undefined) return yield* fail("bindings", `no Durable Object binding ${host.binding}`)
    const subscription: ForwardedSubscription = {
      table: table.name,
      filters,
      events,
      actor,
      ...(actorMetadata === undefined ? {} : { actorMetadata }),
      expiresAt,
      ...(params.since === undefined ? {} : { since: params.since }),
      ...(snapshot ? { snapshot: { limit: params.limit ?? 100, ...(params.cursor === undefined ? {} : { cursor: params.cursor }) } } : {}),
      subprotocol: offered.includes(DB_SUBPROTOCOL),
    }
    const headers = new Headers(request.headers)
    headers.set(SubscriptionHeader, JSON.stringify(subscription))
    // The token was checked: it goes no further.
    headers.delete("Sec-WebSocket-Protocol")
    headers.delete("Authorization")
    const forwarded = new Request(url.toString(), { method: "GET", headers })
    return yield* Effect.tryPromise({
      try: () => forwardToActor(namespace, host.kind, { instance: definition.instance, id: host.id }, forwarded),
      catch: (cause) => new Unauthorized({ reason: "invalid", message: `could not reach the ${host.kind === "tableHub" ? "table hub" : "shard"}: ${String(cause).slice(0, 200)}` }),
    })
  })

/**
 * A fetch handler for the change-stream route of every database declared in this Worker: answers
 * `path` (default `/realtime-db`) and resolves `undefined` for any other path.
 */
export const dbHandler =
  (options: { readonly path?: string } = {}) =>
  (request: Request, env?: unknown): Promise<Response | undefined> => {
    const path = options.path ?? DEFAULT_ROUTE_PATH
    if (new URL(request.url).pathname !== path) return Promise.resolve(undefined)
    return Effect.runPromise(
      handleSubscription(request, (env ?? workersEnv()) as Record<string, unknown>).pipe(
        Effect.catchAll((error) => Effect.succeed(toResponse(error))),
        Effect.catchAllDefect((defect) => Effect.succeed(new Response(`durable-realtime: ${String(defect).slice(0, 200)}`, { status: 500 }))),
      ),
    )
  }
