/**
 * The Durable Objects' own worker script in the cross-isolate topology: it exports the classes
 * and imports the application's declarations, exactly as a deployed Worker's main module does.
 * Its fetch answers what the hooks recorded in this isolate.
 */
import { closedLog } from "./app.js"
import { here } from "./transport-app.js"

export { RealtimeChannel, RealtimeCrdtRoom, RealtimeDbShard, RealtimeDirectory, RealtimeRoom, RealtimeTableHub, RealtimeTransportHub } from "../../src/durable/index.js"

here.isolate = "objects"

export default {
  fetch: (request: Request) => {
    const url = new URL(request.url)
    if (url.pathname === "/closed") return Response.json(closedLog)
    return new Response("not found", { status: 404 })
  },
} satisfies ExportedHandler
