/**
 * Bench-only: this library's room and channel as users bind them, plus one counter: how often
 * each object was constructed in this isolate. A second construction means workerd evicted the
 * object (hibernation: its sockets kept, its JavaScript state dropped) and built it again on the
 * next event; the idle-heap workload reads it to show that the heap it measured after the idle
 * period was taken with the object evicted. src/ is untouched: the classes only add the counter.
 *
 * Routes (the instance `bench-observed`, its own bindings OBSERVED_ROOMS / OBSERVED_CHANNELS):
 * - `GET /bench-observed/grant/{rooms|channels}/{id}?user=` a grant (read, publish, presence);
 * - `GET /bench-observed/constructions/{rooms|channels}/{id}` → `{ constructions }`, answered by
 *   the object itself (so asking wakes it: ask after the wake being measured, not before).
 */
import { RealtimeChannel, RealtimeRoom } from "../src/durable/index.js"
import { objectName } from "../src/internal/rpc.js"
import { realtime } from "../src/index.js"
import type { BenchRoute } from "./routes.js"

export const OBSERVED_INSTANCE = "bench-observed"

/** Rate budgets (frames and bytes, per connection and per actor) off the load generator's path, as in bench/library.ts. */
const UNTHROTTLED = { perSecond: 1_000_000, burst: 1_000_000, bytesPerSecond: 1e12, bytesBurst: 1e12 }

export const observed = realtime({
  name: OBSERVED_INSTANCE,
  rateLimit: UNTHROTTLED,
  actorRateLimit: UNTHROTTLED,
  bindings: { rooms: "OBSERVED_ROOMS", channels: "OBSERVED_CHANNELS" },
})

/** Constructions per object (its id string), in this isolate. */
const constructions = new Map<string, number>()
const CONSTRUCTIONS_PATH = "/__bench/constructions"

const countConstruction = (ctx: DurableObjectState) => {
  const key = ctx.id.toString()
  constructions.set(key, (constructions.get(key) ?? 0) + 1)
}
const constructionsResponse = (ctx: DurableObjectState) => Response.json({ constructions: constructions.get(ctx.id.toString()) ?? 0 })

export class ObservedRealtimeRoom extends RealtimeRoom {
  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env)
    countConstruction(ctx)
  }

  override async fetch(request: Request): Promise<Response> {
    if (new URL(request.url).pathname === CONSTRUCTIONS_PATH) return constructionsResponse(this.ctx)
    return super.fetch(request)
  }
}

export class ObservedRealtimeChannel extends RealtimeChannel {
  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env)
    countConstruction(ctx)
  }

  override async fetch(request: Request): Promise<Response> {
    if (new URL(request.url).pathname === CONSTRUCTIONS_PATH) return constructionsResponse(this.ctx)
    return super.fetch(request)
  }
}

const KINDS = { rooms: { kind: "room", binding: "OBSERVED_ROOMS" }, channels: { kind: "channel", binding: "OBSERVED_CHANNELS" } } as const

export const observedRoute: BenchRoute = async (request, env, url) => {
  const match = /^\/bench-observed\/(grant|constructions)\/(rooms|channels)\/([^/]+)$/.exec(url.pathname)
  if (match === null || request.method !== "GET") return undefined
  const [, what, kinds, rawId] = match as unknown as [string, "grant" | "constructions", keyof typeof KINDS, string]
  const id = decodeURIComponent(rawId)
  if (what === "grant") {
    const actor = { type: "user" as const, id: url.searchParams.get("user") ?? "bench" }
    const input = { actor, permissions: ["read", "publish", "presence"] as Array<"read" | "publish" | "presence">, ttlSeconds: 3600 }
    return Response.json(kinds === "rooms" ? await observed.room(id).authorize(input) : await observed.channel(id).authorize(input))
  }
  const namespace = env[KINDS[kinds].binding] as DurableObjectNamespace
  const stub = namespace.get(namespace.idFromName(objectName(OBSERVED_INSTANCE, KINDS[kinds].kind, id)))
  return stub.fetch(new Request(`http://bench${CONSTRUCTIONS_PATH}`))
}
