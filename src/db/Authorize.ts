/**
 * `database.realtime.authorize({ table, filters, events, ttlSeconds, actor })`: a short-lived
 * grant a browser uses to subscribe to a private table, returned as the product document writes it:
 * `{ url: "wss://host/realtime-db?...", protocols: ["durable-realtime.realtime.v1", "durable-realtime.jwt.<token>"], expiresAt: "<ISO>" }`.
 *
 * The grant binds namespace and database (its instance), table (its resource), filters, events,
 * actor (with its metadata) and expiry. It is refused here when the filters are not declared, a
 * required filter is missing, or an event is not streamed by the table.
 *
 * The URL's origin is, in order: `baseUrl` of the call, the origin of the ambient request (inside
 * `database.worker(...)`, `live.worker(...)` or `withRequest`), the database's `publicUrl`; with
 * none of them it is path-only, which browsers resolve against the page (`http` → `ws`).
 * @since 0.1.0
 */
import { Effect, Schema } from "effect"
import { InvalidInput, invalidInputFromParseError, type ConfigurationError, type Forbidden } from "../RealtimeError.js"
import { Actor, JsonValue } from "../schema/Common.js"
import * as Grants from "../services/Grants.js"
import type { DatabaseDefinition } from "./Declaration.js"
import { DB_SUBPROTOCOL, DB_TOKEN_PROTOCOL_PREFIX } from "./Names.js"
import { ChangeEventSchema, type DbGrant, type Filters } from "./Protocol.js"
import { decodeEvents, decodeFilters, missingRequired } from "./Subscription.js"

/** The product document's actor: `{ kind: "user", id, tenantId }`, any JSON metadata beside `kind` and `id`. */
export const DocumentActor = Schema.Struct(
  { kind: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(64)), id: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(256)) },
  Schema.Record({ key: Schema.String, value: JsonValue }),
)

/** Actor metadata travels inside the token, and tokens over 4 KiB are refused: keep it small. */
export const MAX_ACTOR_METADATA_BYTES = 1_024

export const DbAuthorizeInput = Schema.Struct({
  table: Schema.String,
  filters: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Unknown })),
  events: Schema.optional(Schema.Array(ChangeEventSchema)),
  ttlSeconds: Schema.optionalWith(Schema.Number.pipe(Schema.int(), Schema.between(1, Grants.MAX_TTL_SECONDS)), { default: () => 900 }),
  /** `{ type, id, name? }`, or the document's `{ kind, id, ...metadata }`. */
  actor: Schema.Union(Actor, DocumentActor),
  /** Origin to prefix the URL with (`https://app.example.com`). */
  baseUrl: Schema.optional(Schema.String),
})
export type DbAuthorizeInput = typeof DbAuthorizeInput.Encoded

const ACTOR_TYPES: ReadonlyArray<string> = Actor.fields.type.literals

/** The URL of a subscription (query parameters as the route reads them). */
export const subscriptionUrl = (definition: DatabaseDefinition, table: string, filters: Filters, origin?: string) => {
  const query = new URLSearchParams({ namespace: definition.namespace, database: definition.name, table, filters: JSON.stringify(filters) })
  const base = (origin?.replace(/\/+$/, "") ?? "").replace(/^http(s?):/, "ws$1:")
  return `${base}${definition.routePath}?${query.toString()}`
}

export const authorizeTable = (
  definition: DatabaseDefinition,
  env: Record<string, unknown>,
  raw: DbAuthorizeInput,
  ambientOrigin?: string,
): Effect.Effect<DbGrant, InvalidInput | Forbidden | ConfigurationError> =>
  Effect.gen(function* () {
    const input = yield* Effect.mapError(Schema.decodeUnknown(DbAuthorizeInput)(raw), (error) => invalidInputFromParseError(error))
    const table = definition.tables.get(input.table)
    if (table === undefined || table.realtime === undefined) {
      return yield* new InvalidInput({ field: "table", message: `table: ${definition.name} streams no table "${input.table}"` })
    }
    const filters = yield* decodeFilters(table, input.filters ?? {})
    const missing = missingRequired(table, filters)
    if (missing.length > 0) return yield* new InvalidInput({ field: `filters.${missing[0]}`, message: `filters.${missing[0]}: required filter of ${table.name} is missing` })
    const events = yield* decodeEvents(table, input.events)
    let actor: Actor
    let actorMetadata: Record<string, unknown> | undefined
    // The union's first member wins: an input with `type` is our Actor, one with `kind` the document's.
    if (Schema.is(Actor)(input.actor)) actor = input.actor
    else {
      const given = input.actor as typeof DocumentActor.Type
      const name = typeof given.name === "string" ? given.name.slice(0, 256) : undefined
      actor = { type: (ACTOR_TYPES.includes(given.kind) ? given.kind : "client") as Actor["type"], id: given.id, ...(name === undefined ? {} : { name }) }
      actorMetadata = { ...given }
      const size = JSON.stringify(actorMetadata).length
      if (size > MAX_ACTOR_METADATA_BYTES) {
        return yield* new InvalidInput({ field: "actor", message: `actor: ${size} characters of metadata; at most ${MAX_ACTOR_METADATA_BYTES} travel in a grant` })
      }
    }
    const grants = yield* Grants.fromEnv(env)
    const { token, expiresAt } = yield* grants.sign(
      { type: "table", instance: definition.instance, resource: table.name, actor, ...(actorMetadata === undefined ? {} : { actorMetadata }), permissions: ["read"], filters, events },
      input.ttlSeconds,
    )
    return {
      url: subscriptionUrl(definition, table.name, filters, input.baseUrl ?? ambientOrigin ?? definition.publicUrl),
      protocols: [DB_SUBPROTOCOL, `${DB_TOKEN_PROTOCOL_PREFIX}${token}`],
      expiresAt: new Date(expiresAt).toISOString(),
    }
  })
