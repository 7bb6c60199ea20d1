/**
 * `database.realtime.authorize({ table, filters, events, ttlSeconds, actor })`: a short-lived
 * grant a browser uses to subscribe to a private table, returned as
 * `{ url, protocols: ["durable-realtime.realtime.v1", "durable-realtime.jwt.<token>"], expiresAt }`.
 *
 * The grant binds namespace and database (its instance), table (its resource), filters, events,
 * actor and expiry. It is refused here when the filters are not declared, a required filter is
 * missing, or an event is not streamed by the table.
 * @since 0.1.0
 */
import { Effect, Schema } from "effect"
import { InvalidInput, invalidInputFromParseError, type ConfigurationError, type Forbidden } from "../RealtimeError.js"
import { Actor } from "../schema/Common.js"
import * as Grants from "../services/Grants.js"
import type { DatabaseDefinition } from "./Declaration.js"
import { DB_SUBPROTOCOL, DB_TOKEN_PROTOCOL_PREFIX } from "./Names.js"
import { ChangeEventSchema, type DbGrant, type Filters } from "./Protocol.js"
import { decodeEvents, decodeFilters, missingRequired } from "./Subscription.js"

export const DbAuthorizeInput = Schema.Struct({
  table: Schema.String,
  filters: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Unknown })),
  events: Schema.optional(Schema.Array(ChangeEventSchema)),
  ttlSeconds: Schema.optionalWith(Schema.Number.pipe(Schema.int(), Schema.between(1, Grants.MAX_TTL_SECONDS)), { default: () => 900 }),
  actor: Actor,
  /** Origin to prefix the URL with (`https://app.example.com`); the URL is path-only without it. */
  baseUrl: Schema.optional(Schema.String),
})
export type DbAuthorizeInput = typeof DbAuthorizeInput.Encoded

/** The URL of a subscription (query parameters as the route reads them). */
export const subscriptionUrl = (definition: DatabaseDefinition, table: string, filters: Filters, baseUrl?: string) => {
  const query = new URLSearchParams({ namespace: definition.namespace, database: definition.name, table, filters: JSON.stringify(filters) })
  const base = (baseUrl?.replace(/\/+$/, "") ?? "").replace(/^http(s?):/, "ws$1:")
  return `${base}${definition.routePath}?${query.toString()}`
}

export const authorizeTable = (
  definition: DatabaseDefinition,
  env: Record<string, unknown>,
  raw: DbAuthorizeInput,
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
    const grants = yield* Grants.fromEnv(env)
    const { token, expiresAt } = yield* grants.sign(
      { type: "table", instance: definition.instance, resource: table.name, actor: input.actor, permissions: ["read"], filters, events },
      input.ttlSeconds,
    )
    return {
      url: subscriptionUrl(definition, table.name, filters, input.baseUrl),
      protocols: [DB_SUBPROTOCOL, `${DB_TOKEN_PROTOCOL_PREFIX}${token}`],
      expiresAt,
    }
  })
