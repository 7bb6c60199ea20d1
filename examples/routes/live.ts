/**
 * Example routes for the live pages, Promise style: grants for the browser, joining a room,
 * presence, and document snapshots.
 *
 * Who the user is would come from your session; the example takes a display name from the
 * `user` query parameter so two browser windows can be two people.
 */
import { decodePathIdSync, errorBody, httpStatus, InvalidInput, type RealtimeError } from "../../src/index.js"
import type { RealtimeFacade } from "../../src/facade.js"

const userFrom = (url: URL) => {
  const name = (url.searchParams.get("user") ?? "").trim().slice(0, 40)
  if (name === "") throw new InvalidInput({ field: "user", message: "user: pass ?user=<name>" })
  return { type: "user" as const, id: name.toLowerCase().replace(/[^a-z0-9_-]/g, "-"), name }
}

const json = async (request: Request): Promise<Record<string, unknown>> => {
  const body = (await request.json().catch(() => undefined)) as unknown
  if (body === null || typeof body !== "object" || Array.isArray(body)) throw new InvalidInput({ field: "body", message: "body: must be a JSON object" })
  return body as Record<string, unknown>
}

type Route = (live: RealtimeFacade, request: Request, url: URL, id: string) => Promise<Response>

const routes: ReadonlyArray<readonly [string, RegExp, Route]> = [
  // Grants: what a browser needs to connect (URL, subprotocols, expiry).
  ["GET", /^\/api\/grants\/rooms\/([^/]+)$/, async (live, _request, url, id) => Response.json(await live.room(id).authorize({ actor: userFrom(url), ttlSeconds: 600 }))],
  ["GET", /^\/api\/grants\/channels\/([^/]+)$/, async (live, _request, url, id) =>
    Response.json(await live.channel(id).authorize({ actor: userFrom(url), permissions: ["read"], ttlSeconds: 600 }))],
  ["GET", /^\/api\/grants\/docs\/([^/]+)$/, async (live, _request, url, id) => Response.json(await live.crdtRoom(id).authorize({ actor: userFrom(url), ttlSeconds: 600 }))],
  // Members over HTTP (a server-side bot, a REST client): join, then presence updates.
  ["POST", /^\/rooms\/([^/]+)\/join$/, async (live, request, url, id) => {
    const body = await json(request)
    return Response.json(await live.room(id).join({ actor: userFrom(url), metadata: body.metadata as Record<string, unknown> | undefined }))
  }],
  ["POST", /^\/rooms\/([^/]+)\/presence$/, async (live, request, url, id) => {
    const body = await json(request)
    return Response.json(await live.room(id).presence({ actor: userFrom(url), presence: body.presence as Record<string, unknown> }))
  }],
  // Document snapshots for the editor's buttons.
  ["POST", /^\/api\/docs\/([^/]+)\/snapshots$/, async (live, request, _url, id) => {
    const body = await json(request)
    return Response.json(await live.crdtRoom(id).snapshot({ label: typeof body.label === "string" ? body.label : undefined }), { status: 201 })
  }],
  ["GET", /^\/api\/docs\/([^/]+)\/snapshots$/, async (live, _request, _url, id) => Response.json(await live.crdtRoom(id).snapshots())],
  ["POST", /^\/api\/docs\/([^/]+)\/restore$/, async (live, request, _url, id) => {
    const body = await json(request)
    return Response.json(await live.crdtRoom(id).restore({ snapshotId: String(body.snapshotId ?? "") }))
  }],
]

/** Answer one of the routes above, or `undefined` for any other request. */
export const liveRoutes = async (live: RealtimeFacade, request: Request, url: URL): Promise<Response | undefined> => {
  for (const [method, pattern, handle] of routes) {
    const match = pattern.exec(url.pathname)
    if (match === null || request.method !== method) continue
    try {
      return await handle(live, request, url, decodePathIdSync(match[1]!))
    } catch (error) {
      const typed = error as RealtimeError
      if (typeof typed?._tag === "string") return Response.json(errorBody(typed), { status: httpStatus(typed) })
      throw error
    }
  }
  return undefined
}
