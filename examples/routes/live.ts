/**
 * Example routes for the live pages, Promise style: grants for the browser, joining a room,
 * presence, and document snapshots.
 *
 * Who the user is comes from the session cookie (routes/session.ts): a grant is issued to the
 * logged-in person only, and joins and presence are attributed to them by the instance's
 * `identify`. No query parameter, header or body field names the actor.
 */
import { decodePathIdSync, InvalidInput, isRealtimeError, toResponse } from "../../src/index.js"
import type { RealtimeFacade } from "../../src/facade.js"
import { requireUser } from "./session.js"

const json = async (request: Request): Promise<Record<string, unknown>> => {
  const body = (await request.json().catch(() => undefined)) as unknown
  if (body === null || typeof body !== "object" || Array.isArray(body)) throw new InvalidInput({ field: "body", message: "body: must be a JSON object" })
  return body as Record<string, unknown>
}

type Route = (live: RealtimeFacade, request: Request, url: URL, id: string) => Promise<Response>

const routes: ReadonlyArray<readonly [string, RegExp, Route]> = [
  // Grants: what a browser needs to connect (URL, subprotocols, expiry).
  ["GET", /^\/api\/grants\/rooms\/([^/]+)$/, async (live, request, _url, id) => Response.json(await live.room(id).authorize({ actor: await requireUser(request), ttlSeconds: 600 }))],
  ["GET", /^\/api\/grants\/channels\/([^/]+)$/, async (live, request, _url, id) =>
    Response.json(await live.channel(id).authorize({ actor: await requireUser(request), permissions: ["read"], ttlSeconds: 600 }))],
  ["GET", /^\/api\/grants\/docs\/([^/]+)$/, async (live, request, _url, id) => Response.json(await live.crdtRoom(id).authorize({ actor: await requireUser(request), ttlSeconds: 600 }))],
  // Members over HTTP (a server-side bot, a REST client): join, then presence updates.
  // The member is the session's person (`identify`); only `metadata` / `presence` come from the body.
  // Seed 000's join route, as written: the member is the current user, online.
  ["POST", /^\/rooms\/([^/]+)\/join$/, async (live, request, _url, id) => {
    await requireUser(request)
    return Response.json(await live.room(id).join({
      presence: {
        status: "online",
      },
    }))
  }],
  ["POST", /^\/rooms\/([^/]+)\/presence$/, async (live, request, _url, id) => {
    await requireUser(request)
    const body = await json(request)
    return Response.json(await live.room(id).presence({ presence: body.presence as Record<string, unknown> }))
  }],
  // Document snapshots for the editor's buttons.
  ["POST", /^\/api\/docs\/([^/]+)\/snapshots$/, async (live, request, _url, id) => {
    await requireUser(request)
    const body = await json(request)
    return Response.json(await live.crdtRoom(id).snapshot({ label: typeof body.label === "string" ? body.label : undefined }), { status: 201 })
  }],
  ["GET", /^\/api\/docs\/([^/]+)\/snapshots$/, async (live, _request, _url, id) => Response.json(await live.crdtRoom(id).snapshots())],
  ["POST", /^\/api\/docs\/([^/]+)\/restore$/, async (live, request, _url, id) => {
    await requireUser(request)
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
      if (isRealtimeError(error)) return toResponse(error)
      throw error
    }
  }
  return undefined
}
