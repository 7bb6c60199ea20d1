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
).annotations({ description: "a non-empty id of at most 256 characters, without control characters" })

/** Who did something: a user, a client (browser/device) or a service (jobs, imports, admin). */
export const Actor = Schema.Struct({
  type: Schema.Literal("user", "client", "service", "anonymous"),
  id: Schema.String.pipe(
    Schema.minLength(1, { message: () => "must not be empty" }),
    Schema.maxLength(256, { message: () => "must be at most 256 characters" }),
  ).annotations({ description: "a non-empty string of at most 256 characters" }),
  name: Schema.optional(Schema.String.pipe(Schema.maxLength(256, { message: () => "must be at most 256 characters" }))),
}).annotations({ description: 'an actor: { type: "user" | "client" | "service", id, name? }' })
export type Actor = typeof Actor.Type

export const anonymousActor: Actor = { type: "anonymous", id: "anonymous" }

const isPlainObject = (value: unknown): value is Record<string, unknown> => {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return false
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

/**
 * Deepest nesting a JSON value may have (objects and arrays inside each other). Checked before
 * any other work: on socket frames and HTTP bodies by {@link jsonTextTooDeep} before parsing, on
 * values by the Schemas below.
 */
export const MAX_JSON_DEPTH = 64

/**
 * Keys refused anywhere in a JSON object: assigning them to a plain object changes its prototype
 * instead of storing data, so they are never accepted (`InvalidInput`), at any depth, in message
 * data and metadata, presence, member and room metadata, awareness states and database rows.
 */
export const RESERVED_KEYS: ReadonlySet<string> = new Set(["__proto__", "constructor", "prototype"])

/**
 * Why a value is not plain JSON (no Dates, Maps, functions, NaN, cycles, reserved keys, nesting
 * past {@link MAX_JSON_DEPTH}), or `undefined` when it is. One walk, O(size of the value).
 */
export const jsonProblem = (value: unknown, depth = 0): string | undefined => {
  switch (typeof value) {
    case "string":
    case "boolean":
      return undefined
    case "number":
      return Number.isFinite(value) ? undefined : "must be a finite number"
    case "object": {
      if (value === null) return undefined
      if (depth >= MAX_JSON_DEPTH) return `must not be nested deeper than ${MAX_JSON_DEPTH} levels`
      if (Array.isArray(value)) {
        for (const item of value) {
          const problem = jsonProblem(item, depth + 1)
          if (problem !== undefined) return problem
        }
        return undefined
      }
      if (!isPlainObject(value)) return "must be a JSON value (null, boolean, finite number, string, array or plain object)"
      for (const key of Object.keys(value)) {
        if (RESERVED_KEYS.has(key)) return `must not use the reserved key "${key}" (__proto__, constructor and prototype are refused)`
        const problem = jsonProblem((value as Record<string, unknown>)[key], depth + 1)
        if (problem !== undefined) return problem
      }
      return undefined
    }
    default:
      return "must be a JSON value (null, boolean, finite number, string, array or plain object)"
  }
}

/**
 * Whether JSON text nests objects/arrays deeper than `maxDepth`: a scan of the brackets outside
 * strings, before `JSON.parse` spends time (and stack) on it. O(length), no allocation; string
 * contents are skipped with `indexOf`, so text-heavy frames cost a fraction of parsing them.
 */
export const jsonTextTooDeep = (text: string, maxDepth: number): boolean => {
  let depth = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 34 /* " */) {
      // Jump over the string: to the next quote not escaped (an even run of backslashes before it).
      for (;;) {
        const end = text.indexOf('"', i + 1)
        if (end < 0) return false // unterminated: JSON.parse refuses it
        let slashes = 0
        while (text.charCodeAt(end - 1 - slashes) === 92 /* \\ */) slashes++
        i = end
        if (slashes % 2 === 0) break
      }
    } else if (c === 123 /* { */ || c === 91 /* [ */) {
      if (++depth > maxDepth) return true
    } else if (c === 125 /* } */ || c === 93 /* ] */) {
      depth--
    }
  }
  return false
}

/** The predicate of {@link JsonValue} and {@link JsonObject}'s filter, for decoders compiled from them (`CompiledDecoder.ts`). */
export const isJsonValue = (value: unknown): boolean => jsonProblem(value) === undefined

/** Any JSON value. Rejects undefined, functions, class instances, non-finite numbers, reserved keys, deep nesting. */
export const JsonValue = Schema.Unknown.pipe(
  Schema.filter((value) => jsonProblem(value) ?? true, {
    identifier: "JsonValue",
    description: "a JSON value",
    // For property tests that generate frames from the Schemas (Arbitrary.make).
    arbitrary: () => (fc) => fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.parse(JSON.stringify(value)) as unknown),
  }),
)

/** A JSON object (metadata, presence). */
export const JsonObject = Schema.declare((value: unknown): value is Record<string, unknown> => isPlainObject(value), {
  identifier: "PlainObject",
  message: () => "must be a plain JSON object",
}).pipe(
  Schema.filter((value) => jsonProblem(value) ?? true, {
    identifier: "JsonObject",
    description: "a JSON object",
    arbitrary: () => (fc) => fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 })).map((value) => JSON.parse(JSON.stringify(value)) as Record<string, unknown>),
  }),
)
export type JsonObject = Record<string, unknown>

/** UTF-8 byte length of a value's JSON text. */
export const jsonByteLength = (value: unknown): number => new TextEncoder().encode(JSON.stringify(value) ?? "").length
