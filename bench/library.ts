/**
 * This library as the benchmark runs it: one instance with limits that do not throttle a load
 * generator (a real deployment keeps the defaults), and grants for the load generator's clients.
 */
import { realtime } from "../src/index.js"

/** Rate budgets (frames and bytes, per connection and per actor) off the load generator's path. */
const UNTHROTTLED = { perSecond: 1_000_000, burst: 1_000_000, bytesPerSecond: 1e12, bytesBurst: 1e12 }

/** Socket rate limits off the benchmark's path: the load generator is one trusted client per socket. */
export const bench = realtime({ name: "bench", historyLimit: 2_000_000, rateLimit: UNTHROTTLED, actorRateLimit: UNTHROTTLED })

const permissionsFrom = (url: URL) => {
  const listed = url.searchParams.get("permissions")
  return (listed === null ? ["read", "publish", "presence", "write"] : listed.split(",")) as Array<"read" | "publish" | "presence" | "write">
}

/** `GET /grant/{rooms|channels|crdt}/{id}?user=&permissions=read,publish`: a grant for one load-generator client. */
export const grantRoute = async (request: Request, url: URL): Promise<Response | undefined> => {
  const match = /^\/grant\/(rooms|channels|crdt)\/([^/]+)$/.exec(url.pathname)
  if (request.method !== "GET" || match === null) return undefined
  const [, kind, id] = match
  const actor = { type: "user" as const, id: url.searchParams.get("user") ?? "bench" }
  const input = { actor, permissions: permissionsFrom(url), ttlSeconds: 3600 }
  if (kind === "rooms") return Response.json(await bench.room(id!).authorize(input))
  if (kind === "channels") return Response.json(await bench.channel(id!).authorize(input))
  return Response.json(await bench.crdtRoom(id!).authorize(input))
}
