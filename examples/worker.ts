/**
 * The example app: the routes of the product documents, written the way a user would write them.
 *
 * Effect handlers (HttpRouter from @effect/platform) for some routes, the Promise facade for
 * others, so both styles have a living example.
 */
import { HttpApp, HttpRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Effect, Layer, Schema } from "effect"
import { CurrentRequest, decodePathIdSync, InvalidInput, invalidInputFromParseError, isRealtimeError, JsonValue, PublishInput, Realtime, realtime, toResponse, type RealtimeError } from "../src/index.js"

import { liveRoutes } from "./routes/live.js"
import { feedRoutes } from "./routes/feeds.js"
import { postsTokenRoute } from "./routes/posts-token.js"
import { currentUser, requireUser, requireUserEffect, sessionRoutes } from "./routes/session.js"
import { appDb, dbRoutes } from "./db.js"
import { transportRoutes } from "./transport.js"
import { inspectorRoutes } from "./routes/inspector.js"

export { RealtimeChannel, RealtimeCrdtRoom, RealtimeDbShard, RealtimeDirectory, RealtimeRoom, RealtimeTableHub, RealtimeTransportHub } from "../src/durable/index.js"

/**
 * The instance the examples use. `identify` attributes every write made while handling a request
 * to the person of its session cookie (routes/session.ts); everything else has defaults.
 */
export const live = realtime({ name: "live", historyLimit: 500, identify: currentUser })

/** Render a typed error as JSON with its HTTP status: one place for every route. */
const errorResponse = (error: RealtimeError) => HttpServerResponse.raw(toResponse(error))

const readJson = <A, I>(schema: Schema.Schema<A, I>) =>
  Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => request.json).pipe(
    Effect.mapError(() => new InvalidInput({ field: "body", message: "body: must be JSON" })),
    Effect.flatMap((body) => Effect.mapError(Schema.decodeUnknown(schema)(body), (error) => invalidInputFromParseError(error, "body"))),
  )

/**
 * Effect style: POST /rooms/:roomId/messages publishes the request body as a
 * `message.created` message (seed 000: `room.publish({ type: "message.created", data: body })`).
 */
const postRoomMessage = Effect.gen(function* () {
  const { roomId } = yield* HttpRouter.schemaPathParams(Schema.Struct({ roomId: Schema.String }))
  const request = (yield* HttpServerRequest.HttpServerRequest).source as Request
  // Only people with a session write; `identify` (above) makes them the message's actor.
  yield* requireUserEffect(request)
  // Checked at the edge (plain JSON, bounded depth) before it travels to the room.
  const body = yield* readJson(JsonValue)
  const result = yield* Realtime.room(roomId).publish({ type: "message.created", data: body }).pipe(Effect.provideService(CurrentRequest, request))
  return yield* HttpServerResponse.json(result, { status: result.duplicate ? 200 : 201 })
})

/** Effect style: GET /rooms/:roomId/messages pages room history. */
const getRoomHistory = Effect.gen(function* () {
  const { roomId } = yield* HttpRouter.schemaPathParams(Schema.Struct({ roomId: Schema.String }))
  const query = yield* HttpServerRequest.schemaSearchParams(
    Schema.Struct({ cursor: Schema.optional(Schema.String), limit: Schema.optional(Schema.NumberFromString), direction: Schema.optional(Schema.Literal("backward", "forward")) }),
  )
  const page = yield* Realtime.room(roomId).history(query)
  return yield* HttpServerResponse.json(page)
})

const effectRoutes = HttpRouter.empty.pipe(
  HttpRouter.post("/rooms/:roomId/messages", postRoomMessage),
  HttpRouter.get("/rooms/:roomId/messages", getRoomHistory),
  HttpRouter.get("/stats", Effect.flatMap(Realtime.stats(), (stats) => HttpServerResponse.json(stats))),
  Effect.catchAll((error) => {
    if (error._tag === "RouteNotFound") return HttpServerResponse.empty({ status: 404 })
    if (error._tag === "ParseError") return errorResponse(invalidInputFromParseError(error, "request"))
    if (error._tag === "HttpBodyError") return HttpServerResponse.empty({ status: 500 })
    return errorResponse(error)
  }),
)

const effectHandler = HttpApp.toWebHandlerLayer(effectRoutes, live.layer as Layer.Layer<Realtime>)

/** Promise style: the feed routes use the facade directly. */
const promiseRoutes = async (request: Request, url: URL): Promise<Response | undefined> => {
  const feed = /^\/channels\/([^/]+)\/(events|history)$/.exec(url.pathname)
  if (feed === null) return undefined
  try {
    const channelId = decodePathIdSync(feed[1])
    if (feed[2] === "events" && request.method === "POST") {
      await requireUser(request)
      const body = (await request.json().catch(() => undefined)) as Record<string, unknown> | undefined
      const idempotencyKey = request.headers.get("idempotency-key") ?? undefined
      // The actor is the session's (through `identify`); a body `actor` is dropped, never trusted.
      const { actor: _claimed, ...input } = (body ?? {}) as PublishInput
      const result = await live.channel(channelId).publish({ ...input, ...(idempotencyKey ? { idempotencyKey } : {}) })
      return Response.json(result, { status: result.duplicate ? 200 : 201 })
    }
    if (feed[2] === "history" && request.method === "GET") {
      const limit = url.searchParams.get("limit")
      const page = await live.channel(channelId).history({
        ...(limit === null ? {} : { limit: Number(limit) }),
        cursor: url.searchParams.get("cursor"),
      })
      return Response.json(page)
    }
    return new Response("method not allowed", { status: 405 })
  } catch (error) {
    if (isRealtimeError(error)) return toResponse(error)
    throw error
  }
}

/** The inspector's JSON routes behind the example's admin check (routes/inspector.ts). */
const inspector = inspectorRoutes(live)

export default live.worker({
  async fetch(request, env) {
    const url = new URL(request.url)
    const stream = (await live.handler(request, env)) ?? (await appDb.handler(request))
    if (stream !== undefined) return stream
    const handled = (await sessionRoutes(request, url)) ?? (await liveRoutes(live, request, url)) ?? (await dbRoutes(request, url)) ?? (await transportRoutes(request, url)) ?? (await feedRoutes(request, url)) ?? (await postsTokenRoute(request, url)) ?? (await inspector(request, url)) ?? (await promiseRoutes(request, url))
    return handled ?? effectHandler.handler(request)
  },
})
