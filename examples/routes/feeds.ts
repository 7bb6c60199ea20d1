/**
 * Seed 001 (event transport), as written: backend producers post events to a feed, a dashboard
 * reads them back and catches up from a cursor, and commands travel on the same stream.
 *
 * ```
 * POST /feeds/:feedId/events    { type, eventId, payload, source? }   broadcast, idempotent on eventId
 * GET  /feeds/:feedId/events?limit=&cursor=                           history (pass back catchUpCursor to catch up)
 * POST /feeds/:feedId/control   { action, target, commandId }         publish a feed.control command
 * ```
 *
 * The handler bodies are the document's, unchanged. The router in front of them is ours: it
 * matches the paths and, because the document leaves producer authentication to the app, lets
 * only people with a session (routes/session.ts) write — an open producer endpoint would let
 * anyone inject events into every dashboard.
 */
import { InvalidInput, isRealtimeError, realtime, toResponse } from "../../src/index.js"
import { currentUser, requireUser } from "./session.js"

const live = realtime({
  name: "transport",
  historyLimit: 500,
  identify: currentUser,
})

/** The instance behind the feed routes (a second instance: it shares nothing with `live`). */
export const feeds = live

/** The document's code is JavaScript: to it, `request.json()` is untyped (as in the DOM's `Request`). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type DocumentRequest = { readonly url: string; json(): Promise<any> }
type Handler = (request: DocumentRequest) => Promise<unknown>

const postEvents: Handler = async (request) => {
  const pathSegments = new URL(request.url).pathname.split("/")
  const feedId = pathSegments[2]
  const body = await request.json()
  const channel = live.channel(`feed_${feedId}`)
  return await channel.broadcast({
    type: body.type,
    data: {
      feedId: feedId,
      eventId: body.eventId,
      payload: body.payload,
      receivedAt: new Date().toISOString(),
    },
    metadata: {
      source: body.source ?? "api",
    },
    idempotencyKey: body.eventId,
  })
}

const getEvents: Handler = async (request) => {
  const pathSegments = new URL(request.url).pathname.split("/")
  const feedId = pathSegments[2]
  return await live.channel(`feed_${feedId}`).history({
    limit: Number(new URL(request.url).searchParams.get("limit") ?? 100),
    cursor: new URL(request.url).searchParams.get("cursor") ?? undefined,
  })
}

const postControl: Handler = async (request) => {
  const pathSegments = new URL(request.url).pathname.split("/")
  const feedId = pathSegments[2]
  const body = await request.json()
  return await live.channel(`feed_${feedId}`).publish({
    type: "feed.control",
    data: {
      action: body.action,
      target: body.target,
      requestedAt: new Date().toISOString(),
    },
    idempotencyKey: body.commandId,
  })
}

const routes: ReadonlyArray<readonly [string, RegExp, Handler]> = [
  ["POST", /^\/feeds\/[^/]+\/events$/, postEvents],
  ["GET", /^\/feeds\/[^/]+\/events$/, getEvents],
  ["POST", /^\/feeds\/[^/]+\/control$/, postControl],
]

/** The feed routes, or `undefined` for any other request. */
export const feedRoutes = async (request: Request, url: URL): Promise<Response | undefined> => {
  const route = routes.find(([method, pattern]) => method === request.method && pattern.test(url.pathname))
  if (route === undefined) return undefined
  try {
    if (request.method !== "GET") await requireUser(request)
    // Inside live.worker(...) (examples/worker.ts) the request is ambient: `identify` sees it.
    return Response.json(await route[2](request))
  } catch (error) {
    if (isRealtimeError(error)) return toResponse(error)
    // The document's handlers read the body with request.json(): malformed JSON is the client's mistake.
    if (error instanceof SyntaxError) return toResponse(new InvalidInput({ field: "body", message: "body: must be JSON" }))
    throw error
  }
}
