/**
 * Who is making a request: the actor of a write when none is passed explicitly.
 *
 * Order: an explicit `actor` in the input wins (server code: service jobs, imports, admin); else
 * the instance's `identify(request, env)`, which the application backs with its own
 * authentication; else the write is anonymous. Nothing a client sends (headers, query, body) names
 * an actor unless the application says so: `identityFromHeaders()` is that explicit choice, for an
 * edge that sets identity headers and strips them from client requests.
 *
 * @since 0.1.0
 */
import { Context, Effect, Option, Schema } from "effect"
import type { Identify, IdentifyResult, IdentityHeaders, ResolvedConfig } from "../Config.js"
import { ConfigurationError, RealtimeError } from "../RealtimeError.js"
import { Actor } from "../schema/Common.js"

/**
 * The HTTP request being handled, when there is one. The Promise facade provides it inside
 * `live.worker(...)`; Effect handlers provide it themselves
 * (`Effect.provideService(CurrentRequest, request)`), so `identify` can see it.
 */
export class CurrentRequest extends Context.Tag("durable-realtime/CurrentRequest")<CurrentRequest, Request>() {}

const clean = (value: string | null): string | undefined => {
  const trimmed = value?.trim()
  return trimmed === undefined || trimmed === "" || trimmed.length > 256 ? undefined : trimmed
}

const defaultHeaders: Required<IdentityHeaders> = { userId: "x-user-id", userName: "x-user-name", clientId: "x-client-id" }

/** The actor named by a request's identity headers, if any (default names `x-user-id`, `x-user-name`, `x-client-id`). */
export const actorFromHeaders = (headers: Headers, names: IdentityHeaders = {}): Actor | undefined => {
  const header = { ...defaultHeaders, ...names }
  const name = clean(headers.get(header.userName))
  const userId = clean(headers.get(header.userId))
  if (userId !== undefined) return { type: "user", id: userId, ...(name === undefined ? {} : { name }) }
  const clientId = clean(headers.get(header.clientId))
  if (clientId !== undefined) return { type: "client", id: clientId, ...(name === undefined ? {} : { name }) }
  return undefined
}

/**
 * An `identify` that trusts identity headers. Any client can send `x-user-id: ada`, so use it only
 * where your edge (a gateway, Cloudflare Access, another Worker) authenticates the person, sets
 * these headers and strips them from what clients send.
 */
export const identityFromHeaders =
  (names: IdentityHeaders = {}): Identify =>
  (request: Request) =>
    actorFromHeaders(request.headers, names)

const isRealtimeError = Schema.is(RealtimeError)
const decodeActor = Schema.decodeUnknownOption(Actor)

// An identify that throws or answers garbage is a bug of the application, not of the client: say
// so once per isolate (the request gets a ConfigurationError), without echoing what it returned.
const logged = new Set<string>()
const misconfigured = (message: string): ConfigurationError => {
  if (!logged.has(message)) {
    logged.add(message)
    console.error(`durable-realtime: ${message}`)
  }
  return new ConfigurationError({ setting: "identify", message })
}

type IdentifyFunction = Exclude<Identify, Effect.Effect<any, any, any>>

const runIdentify = (identify: Identify, request: Request, env: Record<string, unknown>): Effect.Effect<IdentifyResult, RealtimeError> =>
  Effect.suspend(() => {
    if (Effect.isEffect(identify)) return Effect.provideService(identify, CurrentRequest, request)
    let answer: ReturnType<IdentifyFunction>
    try {
      answer = identify(request, env)
    } catch (error) {
      return Effect.fail(isRealtimeError(error) ? error : misconfigured(`identify threw: ${String(error).slice(0, 200)}`))
    }
    if (Effect.isEffect(answer)) return answer
    if (answer instanceof Promise) {
      return Effect.tryPromise({
        try: () => answer as Promise<IdentifyResult>,
        catch: (error) => (isRealtimeError(error) ? error : misconfigured(`identify rejected: ${String(error).slice(0, 200)}`)),
      })
    }
    return Effect.succeed(answer)
  })

/**
 * The caller of the current Effect: what the instance's `identify` says about the `CurrentRequest`
 * in context. `undefined` (anonymous, unless the write names an actor) when there is no request in
 * context or the instance has no `identify`.
 */
export const currentCaller = (config: ResolvedConfig, env: Record<string, unknown>): Effect.Effect<Actor | undefined, RealtimeError> =>
  Effect.flatMap(Effect.serviceOption(CurrentRequest), (request) => {
    const identify = config.identify
    if (Option.isNone(request) || identify === undefined) return Effect.succeed(undefined)
    return Effect.flatMap(runIdentify(identify, request.value, env), (answer) => {
      if (answer === undefined || answer === null) return Effect.succeed(undefined)
      const actor = decodeActor(answer)
      return Option.isSome(actor) ? Effect.succeed(actor.value) : Effect.fail(misconfigured("identify returned something that is not an actor ({ type, id, name? })"))
    })
  })
