/**
 * Public, typed errors of durable-realtime.
 *
 * Every error is a `Schema.TaggedError`, so it crosses the Durable Object RPC boundary as an
 * encoded value and arrives in the Worker as the same class: `Effect.catchTag("RoomDestroyed", ...)`
 * works in a handler, and the Promise facade rejects with the same instance type.
 *
 * HTTP statuses and WebSocket close codes are mapped here and nowhere else.
 *
 * @since 0.1.0
 */
import { type ParseResult, Schema } from "effect"
import { readableIssues } from "./internal/readableIssues.js"

/**
 * A field of an input failed its Schema (or a domain rule). Nothing was stored. `message` has one
 * sentence per problem (`type: is missing (a non-empty string)`); `issue`, when the input failed a
 * Schema, is Schema's full account of the failure, for debugging.
 */
export class InvalidInput extends Schema.TaggedError<InvalidInput>()("InvalidInput", {
  field: Schema.String,
  message: Schema.String,
  issue: Schema.optional(Schema.String),
}) {}

/** The payload is bigger than the configured limit. Nothing was stored. */
export class PayloadTooLarge extends Schema.TaggedError<PayloadTooLarge>()("PayloadTooLarge", {
  field: Schema.String,
  size: Schema.Number,
  limit: Schema.Number,
  message: Schema.String,
}) {}

/** The room or channel was destroyed: writes are refused for good. */
export class RoomDestroyed extends Schema.TaggedError<RoomDestroyed>()("RoomDestroyed", {
  kind: Schema.Literal("room", "channel", "crdtRoom"),
  id: Schema.String,
  message: Schema.String,
}) {}

/** Something asked for does not exist (a snapshot, a row, a member). */
export class NotFound extends Schema.TaggedError<NotFound>()("NotFound", {
  what: Schema.String,
  message: Schema.String,
}) {}

/** No valid credentials: missing, expired, tampered or for another audience. Refresh and retry. */
export class Unauthorized extends Schema.TaggedError<Unauthorized>()("Unauthorized", {
  reason: Schema.Literal("missing", "expired", "invalid", "wrong-audience", "wrong-scope"),
  message: Schema.String,
}) {}

/** Valid credentials, but they do not allow this (read-only grant writing, other actor). Do not retry. */
export class Forbidden extends Schema.TaggedError<Forbidden>()("Forbidden", {
  message: Schema.String,
}) {}

/** `maxConnections` reached, or a rate limit hit. */
export class LimitExceeded extends Schema.TaggedError<LimitExceeded>()("LimitExceeded", {
  limit: Schema.Literal("connections", "rate", "frame"),
  message: Schema.String,
}) {}

/** A constraint of a stored table failed (unique, not null). Nothing was stored. */
export class ConstraintViolation extends Schema.TaggedError<ConstraintViolation>()("ConstraintViolation", {
  table: Schema.String,
  message: Schema.String,
}) {}

/** An idempotency key was reused with a different message: neither is changed. */
export class IdempotencyConflict extends Schema.TaggedError<IdempotencyConflict>()("IdempotencyConflict", {
  idempotencyKey: Schema.String,
  message: Schema.String,
}) {}

/** The platform failed underneath us (storage, RPC). The operation may be retried. */
export class StorageFailure extends Schema.TaggedError<StorageFailure>()("StorageFailure", {
  message: Schema.String,
}) {}

/**
 * An object was addressed for an instance (or database) that its isolate never declared. This is
 * a deployment mistake (the declaration is not imported by the Durable Objects' script), never
 * answered with default options.
 */
export class InstanceNotDeclared extends Schema.TaggedError<InstanceNotDeclared>()("InstanceNotDeclared", {
  instance: Schema.String,
  kind: Schema.String,
  message: Schema.String,
}) {}

/**
 * The server is not configured to do this safely (no grant secret, a development key in
 * production). Not the client's fault and not retryable by it: the log line says what to set.
 */
export class ConfigurationError extends Schema.TaggedError<ConfigurationError>()("ConfigurationError", {
  setting: Schema.String,
  message: Schema.String,
}) {}

/** The union of every public error, as one Schema (used to encode RPC exits). */
export const RealtimeError = Schema.Union(
  InvalidInput,
  PayloadTooLarge,
  RoomDestroyed,
  NotFound,
  Unauthorized,
  Forbidden,
  LimitExceeded,
  ConstraintViolation,
  IdempotencyConflict,
  StorageFailure,
  InstanceNotDeclared,
  ConfigurationError,
)
export type RealtimeError = typeof RealtimeError.Type

/** HTTP status of each error: the one place that decides it. */
export const httpStatus = (error: RealtimeError): number => {
  switch (error._tag) {
    case "InvalidInput":
      return 400
    case "Unauthorized":
      return 401
    case "Forbidden":
      return 403
    case "NotFound":
      return 404
    case "RoomDestroyed":
      return 410
    case "ConstraintViolation":
    case "IdempotencyConflict":
      return 409
    case "PayloadTooLarge":
      return 413
    case "LimitExceeded":
      return error.limit === "frame" ? 413 : error.limit === "rate" ? 429 : 503
    case "StorageFailure":
    case "InstanceNotDeclared":
    case "ConfigurationError":
      return 500
  }
}

/**
 * WebSocket close codes (4000-4999 is the application range).
 * 4001 "grant expired" tells a client to fetch a new grant; 4003 "forbidden" tells it not to retry.
 */
export const CloseCode = {
  normal: 1000,
  goingAway: 1001,
  unsupported: 1003,
  tooBig: 1009,
  grantExpired: 4001,
  unauthorized: 4002,
  forbidden: 4003,
  destroyed: 4004,
  tooManyConnections: 4008,
  rateLimited: 4009,
  /** SSE: the reader fell `sseBufferBytes` behind; reconnect with `Last-Event-ID` (nothing is lost). */
  slowReader: 4010,
  policy: 1008,
} as const

/** The JSON body a Worker route returns for an error. */
export const errorBody = (error: RealtimeError) => ({ error: Schema.encodeSync(RealtimeError)(error) })

/** Whether a caught value is one of this library's typed errors (what a Promise API rejects with). */
export const isRealtimeError: (u: unknown) => u is RealtimeError = Schema.is(RealtimeError)

/**
 * A typed error as an HTTP response: its status (`httpStatus`) and its readable JSON body
 * (`errorBody`). The one renderer the library's routes, its Durable Objects and the example use.
 */
export const toResponse = (error: RealtimeError, init?: { readonly headers?: HeadersInit }): Response =>
  Response.json(errorBody(error), { status: httpStatus(error), ...(init?.headers === undefined ? {} : { headers: init.headers }) })

/**
 * Turn a Schema parse failure into an `InvalidInput`: `field` names the first offending field,
 * `message` has one readable sentence per problem, `issue` keeps Schema's tree.
 */
export const invalidInputFromParseError = (error: ParseResult.ParseError, root = "input"): InvalidInput => new InvalidInput(readableIssues(error, root))
