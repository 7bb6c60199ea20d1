/**
 * Ids taken from URL path segments. `decodeURIComponent` throws a `URIError` on a malformed
 * escape (`%E0%A4%A`), which an app's route would turn into a 500 page; these answer with
 * `InvalidInput` (400) instead, and check the decoded id with the same Schema as `room(id)`.
 *
 * @example
 * ```ts
 * const match = /^\/rooms\/([^/]+)\/join$/.exec(url.pathname)
 * const roomId = decodePathIdSync(match[1]) // throws InvalidInput on "%E0%A4%A"
 * ```
 *
 * @since 0.2.0
 */
import { Effect, Either, Schema } from "effect"
import { InvalidInput } from "../RealtimeError.js"
import { ResourceId } from "../schema/Common.js"

const validId = Schema.decodeUnknownEither(ResourceId)

/** Decode one percent-encoded path segment into a resource id, or say why not. */
export const decodePathIdEither = (segment: string, field = "id"): Either.Either<string, InvalidInput> => {
  let decoded: string
  try {
    decoded = decodeURIComponent(segment)
  } catch {
    return Either.left(new InvalidInput({ field, message: `${field}: malformed percent-encoding in the path` }))
  }
  const checked = validId(decoded)
  return Either.isRight(checked)
    ? Either.right(checked.right)
    : Either.left(new InvalidInput({ field, message: `${field}: must be 1-256 characters without control characters` }))
}

/** {@link decodePathIdEither} as an Effect. */
export const decodePathId = (segment: string, field = "id"): Effect.Effect<string, InvalidInput> => decodePathIdEither(segment, field)

/** {@link decodePathIdEither} for Promise-style handlers: throws the `InvalidInput`. */
export const decodePathIdSync = (segment: string, field = "id"): string => Either.getOrThrowWith(decodePathIdEither(segment, field), (error) => error)
