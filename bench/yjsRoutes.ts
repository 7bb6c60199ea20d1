/**
 * HTTP routes of the Yjs workloads: the apply-and-forward floor, the y-partyserver peer, and the
 * library CRDT room's `documentStats()` / `compact()` (what an operator would call) for the
 * storage figures.
 */
import { bench } from "./library.js"
import { YjsPartyPeerRoute } from "./peers/YjsPartyPeer.js"
import type { BenchRoute } from "./routes.js"

/** `GET /bench/crdt/{id}/stats` → `documentStats()`; `POST /bench/crdt/{id}/compact` → `compact()`. */
const crdtAdminRoute: BenchRoute = async (request, _env, url) => {
  const match = /^\/bench\/crdt\/([^/]+)\/(stats|compact)$/.exec(url.pathname)
  if (match === null) return undefined
  const room = bench.crdtRoom(decodeURIComponent(match[1]!))
  if (match[2] === "compact" && request.method === "POST") return Response.json(await room.compact())
  return Response.json(await room.documentStats())
}

/** `/floor/yjs-forward/{id}[/stats]` → the floor named id (routes.ts's `forwardTo`, not imported: routes.ts imports this file). */
const floorRoute: BenchRoute = async (request, env, url) => {
  const match = /^\/floor\/yjs-forward\/([^/]+)/.exec(url.pathname)
  if (match === null) return undefined
  const namespace = env.YJS_FORWARD_FLOOR as DurableObjectNamespace
  return namespace.get(namespace.idFromName(decodeURIComponent(match[1]!))).fetch(request)
}

export const yjsRoutes: Array<BenchRoute> = [
  floorRoute,
  (request, env) => YjsPartyPeerRoute(request, env),
  crdtAdminRoute,
]
