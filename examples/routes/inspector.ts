/**
 * The inspector's JSON routes (`/admin/realtime/*`) behind the example's admin check.
 *
 * The check here is a stand-in: the example has no admin accounts, so it opens the inspector to
 * local development (a request to 127.0.0.1 / localhost) only. Put your own check in its place.
 */
import { Forbidden, inspectorHandler, toResponse, type RealtimeFacade } from "../../src/index.js"
import { appDb } from "../db.js"

const isLocalDevelopment = (url: URL) => url.hostname === "127.0.0.1" || url.hostname === "localhost" || url.hostname === "[::1]"

/** Answer `/admin/realtime/*` for admins; `undefined` for other paths. */
export const inspectorRoutes = (live: RealtimeFacade) => {
  const inspect = inspectorHandler(live, { prefix: "/admin/realtime", databases: [appDb] })
  return async (request: Request, url: URL): Promise<Response | undefined> => {
    if (!url.pathname.startsWith("/admin/realtime")) return undefined
    if (!isLocalDevelopment(url)) return toResponse(new Forbidden({ message: "the inspector is for administrators" }))
    return inspect(request)
  }
}
