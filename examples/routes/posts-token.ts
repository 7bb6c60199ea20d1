/**
 * Seed 003's token route, as written: `POST /realtime/posts/token` issues a grant for the posts
 * of the caller's tenant (`examples/db.ts` declares the table). It sits under `/realtime`, the
 * live routes' prefix, and reaches the app because `live.handler` answers only its own routes.
 *
 * `requireAuth` is the application's, as the document leaves it: here the session's person
 * (routes/session.ts), in the demo's one tenant — the one the `/feed` page shows by default. A
 * real app reads the tenant from its own records, never from the request.
 */
import { isRealtimeError, toResponse } from "../../src/index.js"
import { appDb } from "../db.js"
import { requireUser } from "./session.js"

/** The tenant every person of the demo belongs to. */
export const DEMO_TENANT = "acme"

const database = appDb

const requireAuth = async (request: Request) => {
  const user = await requireUser(request)
  return { userId: user.id, tenantId: DEMO_TENANT }
}

const token = async (request: Request) => {
  const auth = await requireAuth(request)
  return await database.realtime.authorize({
    table: "posts",
    filters: {
      tenantId: auth.tenantId,
    },
    events: ["insert", "update"],
    ttlSeconds: 300,
    actor: {
      kind: "user",
      id: auth.userId,
      tenantId: auth.tenantId,
    },
  })
}

/** `POST /realtime/posts/token`, or `undefined` for any other request. */
export const postsTokenRoute = async (request: Request, url: URL): Promise<Response | undefined> => {
  if (url.pathname !== "/realtime/posts/token" || request.method !== "POST") return undefined
  try {
    return Response.json(await token(request))
  } catch (error) {
    if (isRealtimeError(error)) return toResponse(error)
    throw error
  }
}
