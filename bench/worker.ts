/**
 * The benchmark Worker: this library's room, channel and CRDT room, the raw Durable Object floors
 * and the peers (partyserver, y-partyserver), in one Worker with one compatibility date.
 */
import { liveHandler } from "../src/http/LiveRoutes.js"
import { routes } from "./routes.js"

export { RealtimeChannel, RealtimeCrdtRoom, RealtimeDbShard, RealtimeDirectory, RealtimeRoom, RealtimeTableHub } from "../src/durable/index.js"
export * from "./classes.js"

const live = liveHandler()

export default {
  async fetch(request: Request, env: Record<string, unknown>) {
    const url = new URL(request.url)
    for (const route of routes) {
      const response = await route(request, env, url)
      if (response !== undefined) return response
    }
    return (await live(request, env)) ?? new Response("not found", { status: 404 })
  },
} satisfies ExportedHandler<Record<string, unknown>>
