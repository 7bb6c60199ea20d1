/**
 * Who is making a request: the actor of a write when none is passed explicitly.
 *
 * Order: an explicit `actor` in the input wins (service jobs, imports, admin); else the identity
 * headers of the current request (names configurable); else the write is anonymous.
 *
 * @since 0.1.0
 */
import { Context, Effect, Option } from "effect"
import type { ResolvedConfig } from "../Config.js"
import type { Actor } from "../schema/Common.js"

/** The HTTP request being handled, when there is one. Provide it in Effect handlers. */
export class CurrentRequest extends Context.Tag("durable-realtime/CurrentRequest")<CurrentRequest, { readonly headers: Headers }>() {}

const clean = (value: string | null): string | undefined => {
  const trimmed = value?.trim()
  return trimmed === undefined || trimmed === "" || trimmed.length > 256 ? undefined : trimmed
}

/** The actor named by a request's identity headers, if any. */
export const actorFromHeaders = (headers: Headers, config: ResolvedConfig): Actor | undefined => {
  const names = config.identityHeaders
  const name = clean(headers.get(names.userName))
  const userId = clean(headers.get(names.userId))
  if (userId !== undefined) return { type: "user", id: userId, ...(name === undefined ? {} : { name }) }
  const clientId = clean(headers.get(names.clientId))
  if (clientId !== undefined) return { type: "client", id: clientId, ...(name === undefined ? {} : { name }) }
  return undefined
}

/** The caller of the current Effect: from the `CurrentRequest` in context, if provided. */
export const currentCaller = (config: ResolvedConfig): Effect.Effect<Actor | undefined> =>
  Effect.map(Effect.serviceOption(CurrentRequest), (request) =>
    Option.isSome(request) ? actorFromHeaders(request.value.headers, config) : undefined,
  )
