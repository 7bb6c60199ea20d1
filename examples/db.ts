/**
 * The realtime-database example: a `posts` table per tenant, written through the Database API and
 * streamed to browsers with table grants.
 *
 * ```
 * POST   /db/posts                       { id, tenantId, title }           insert
 * PATCH  /db/posts/:id?tenantId=t1       { title?, published? }            update
 * DELETE /db/posts/:id?tenantId=t1                                         delete
 * GET    /db/posts?tenantId=t1&limit=&cursor=                             select
 * POST   /db/grants                      { tenantId }                      a grant for the tenant's posts stream, to the logged-in person
 * WS     /realtime-db?namespace=default&database=app&table=posts&filters={"tenantId":"t1"}   (the grant's url + protocols)
 * ```
 */
import { Schema } from "effect"
import { decodePathIdSync, InvalidInput, invalidInputFromParseError, isRealtimeError, toResponse } from "../src/index.js"
import { boolean, db, table, text } from "../src/db/index.js"
import { requireUser } from "./routes/session.js"

export const posts = table({
  id: text().primaryKey(),
  tenantId: text().notNull().index(),
  title: text().notNull(),
  published: boolean().notNull().default(false),
})

export const appDb = db({
  name: "app",
  schema: { posts },
  realtime: { tables: { posts: { filters: ["tenantId", "published"], requiredFilters: ["tenantId"] } } },
  shards: 4,
})

// Only the tenant comes from the body: the grant's actor is the session's person (routes/session.ts).
const GrantRequest = Schema.Struct({ tenantId: Schema.String })

const json = async (request: Request): Promise<unknown> => {
  try {
    return await request.json()
  } catch {
    throw new InvalidInput({ field: "body", message: "body: must be JSON" })
  }
}

const asObject = (value: unknown): Record<string, unknown> => (value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : {})

/** The db routes of the example app; `undefined` for other paths. */
export const dbRoutes = async (request: Request, url: URL): Promise<Response | undefined> => {
  const match = /^\/db\/(posts|grants)(?:\/([^/]+))?$/.exec(url.pathname)
  if (match === null) return undefined
  const posts = appDb.table("posts")
  try {
    if (match[1] === "grants" && request.method === "POST") {
      const actor = await requireUser(request)
      const body = Schema.decodeUnknownEither(GrantRequest)(await json(request))
      if (body._tag === "Left") throw invalidInputFromParseError(body.left, "body")
      const grant = await appDb.realtime.authorize({
        table: "posts",
        filters: { tenantId: body.right.tenantId },
        actor,
        ttlSeconds: 600,
      })
      return Response.json(grant, { status: 201 })
    }
    const id = match[2] === undefined ? undefined : decodePathIdSync(match[2])
    const tenantId = url.searchParams.get("tenantId") ?? ""
    if (id === undefined && request.method === "POST") return Response.json(await posts.insert((await json(request)) as never), { status: 201 })
    if (id === undefined && request.method === "GET") {
      const limit = url.searchParams.get("limit")
      return Response.json(await posts.select({ where: { tenantId }, ...(limit === null ? {} : { limit: Number(limit) }), cursor: url.searchParams.get("cursor") }))
    }
    if (id !== undefined && request.method === "PATCH") return Response.json(await posts.update({ id, tenantId }, asObject(await json(request))))
    if (id !== undefined && request.method === "DELETE") return Response.json(await posts.delete({ id, tenantId }))
    return new Response("method not allowed", { status: 405 })
  } catch (error) {
    if (isRealtimeError(error)) return toResponse(error)
    throw error
  }
}
