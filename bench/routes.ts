/**
 * Every HTTP route of the benchmark Worker, tried in order; a route resolves `undefined` for a
 * request that is not its own. Each workload family registers its routes here.
 */
import { grantRoute } from "./library.js"
import { dbflowRoutes } from "./dbflow/routes.js"
import { yjsRoutes } from "./yjsRoutes.js"
import { fanoutPartyRoute } from "./peers/fanoutParty.js"
import { persistRoute } from "./persist-library.js"
import { heapGcRoute } from "./heapRoute.js"
import { observedRoute } from "./observed.js"

export type BenchRoute = (request: Request, env: Record<string, unknown>, url: URL) => Promise<Response | undefined>

/** `/floor/{name}/{id}/...` and similar: forward to the Durable Object named `id` in a binding. */
export const forwardTo =
  (prefix: string, binding: string): BenchRoute =>
  async (request, env, url) => {
    if (!url.pathname.startsWith(`${prefix}/`)) return undefined
    const id = url.pathname.slice(prefix.length + 1).split("/")[0]
    if (id === undefined || id === "") return new Response("missing object id", { status: 400 })
    const namespace = env[binding] as DurableObjectNamespace
    return namespace.get(namespace.idFromName(decodeURIComponent(id))).fetch(request)
  }

export const routes: Array<BenchRoute> = [
  (request, _env, url) => grantRoute(request, url),
  heapGcRoute,
  observedRoute,
  persistRoute,
  forwardTo("/floor/insert-send", "FLOOR_INSERT_SEND"),
  forwardTo("/floor/unique-idempotency", "FLOOR_UNIQUE_IDEMPOTENCY"),
  forwardTo("/floor/keyset", "FLOOR_KEYSET_HISTORY"),
  forwardTo("/floor/fanout-loop", "FANOUT_LOOP_FLOOR"),
  ...dbflowRoutes,
  ...yjsRoutes,
  fanoutPartyRoute,
]
