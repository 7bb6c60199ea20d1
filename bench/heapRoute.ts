/**
 * `POST /bench/heap/gc`: a full V8 garbage collection of this Worker's isolate, for the idle-heap
 * workload. `gc` exists only when workerd runs with the V8 flag `--expose-gc` (the workload starts
 * its own wrangler dev with `MINIFLARE_WORKERD_V8_FLAGS=--expose-gc`); without it the route says
 * so (501) instead of pretending. Under wrangler dev the Worker and every Durable Object of this
 * script share one isolate, so one collection here frees the garbage of every object.
 * (`HeapProfiler.collectGarbage` over the inspector gets no answer through wrangler's inspector
 * proxy, and workerd's own inspector port answers nothing while the proxy holds the session.)
 */
import type { BenchRoute } from "./routes.js"

type ExposedGc = (options?: { type?: "major" | "minor"; execution?: "sync" | "async" }) => void

// Weak callbacks and finalizers can free more objects on the next pass: collect until the
// caller's reading settles (it reads the heap over the inspector after each call).
const COLLECTIONS_PER_CALL = 3

export const heapGcRoute: BenchRoute = async (request, _env, url) => {
  if (url.pathname !== "/bench/heap/gc") return undefined
  if (request.method !== "POST") return new Response("POST only", { status: 405 })
  const gc = (globalThis as { gc?: ExposedGc }).gc
  if (typeof gc !== "function") return new Response("gc is not exposed: start workerd with --expose-gc", { status: 501 })
  for (let pass = 0; pass < COLLECTIONS_PER_CALL; pass++) gc({ type: "major", execution: "sync" })
  return Response.json({ collections: COLLECTIONS_PER_CALL })
}
