/**
 * Schemas shared by every actor: identifiers, actors, JSON values.
 * @since 0.1.0
 */
import { Schema } from "effect"

/** A room, channel or document id: what users pass to `room(id)`. */
export const ResourceId = Schema.String.pipe(
  Schema.minLength(1, { message: () => "must not be empty" }),
  Schema.maxLength(256, { message: () => "must be at most 256 characters" }),
  Schema.pattern(/^[^\u0000-\u001f]+$/, { message: () => "must not contain control characters" }),
)

/** Who did something: a user, a client (browser/device) or a service (jobs, imports, admin). */
export const Actor = Schema.Struct({
  type: Schema.Literal("user", "client", "service", "anonymous"),
  id: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(256)),
  name: Schema.optional(Schema.String.pipe(Schema.maxLength(256))),
})
export type Actor = typeof Actor.Type

export const anonymousActor: Actor = { type: "anonymous", id: "anonymous" }

const isPlainObject = (value: unknown): value is Record<string, unknown> => {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return false
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

/** Walks a value and answers whether it is plain JSON (no Dates, Maps, functions, NaN, cycles). */
export const isJsonValue = (value: unknown, depth = 0): boolean => {
  if (depth > 64) return false
  switch (typeof value) {
    case "string":
    case "boolean":
      return true
    case "number":
      return Number.isFinite(value)
    case "object":
      if (value === null) return true
      if (Array.isArray(value)) return value.every((item) => isJsonValue(item, depth + 1))
      if (!isPlainObject(value)) return false
      return Object.values(value).every((item) => isJsonValue(item, depth + 1))
    default:
      return false
  }
}

/** Any JSON value. Rejects undefined, functions, class instances, non-finite numbers, deep nesting. */
export const JsonValue = Schema.declare((value: unknown): value is unknown => isJsonValue(value), {
  identifier: "JsonValue",
  message: () => "must be a JSON value (null, boolean, finite number, string, array or plain object)",
  // For property tests that generate frames from the Schemas (Arbitrary.make).
  arbitrary: () => (fc) => fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.parse(JSON.stringify(value)) as unknown),
})

/** A JSON object (metadata). */
export const JsonObject = Schema.declare(
  (value: unknown): value is Record<string, unknown> => isPlainObject(value) && isJsonValue(value),
  {
    identifier: "JsonObject",
    message: () => "must be a plain JSON object",
    arbitrary: () => (fc) => fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 })).map((value) => JSON.parse(JSON.stringify(value)) as Record<string, unknown>),
  },
)
export type JsonObject = Record<string, unknown>

/** UTF-8 byte length of a value's JSON text. */
export const jsonByteLength = (value: unknown): number => new TextEncoder().encode(JSON.stringify(value) ?? "").length
