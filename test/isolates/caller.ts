/**
 * The calling Worker of the cross-isolate topology. It has no Durable Object classes: its
 * bindings point at the objects' script (`script_name`). It imports the same declarations as
 * the objects' script, and declares one instance and one database that script never sees.
 */
import { realtime } from "../../src/facade.js"
import { db, table, text } from "../../src/db/index.js"
import { boards, promiseApp } from "./app.js"
import { createRealtime } from "../../src/transport/index.js"
import { here, xiTransport } from "./transport-app.js"

here.isolate = "caller"
/** A transport instance declared only here: the objects' isolate has never heard of it. */
export const callerOnlyTransport = createRealtime({ name: "xi-transport-caller-only", driver: "websocket", identify: () => ({ type: "user" as const, id: "someone" }) })

/** Declared only here: the objects' isolate has never heard of it. */
export const callerOnly = realtime({ name: "xi-caller-only", historyLimit: 5 })
export const callerOnlyDb = db({ name: "xi-caller-only-db", schema: { items: table({ id: text().primaryKey() }) } })

export default {
  async fetch(request: Request, env: unknown) {
    const path = new URL(request.url).pathname
    if (path === "/transport/ws") return xiTransport.upgrade(request)
    if (path === "/transport/caller-only/ws") return callerOnlyTransport.upgrade(request)
    return (await boards.handler(request, env)) ?? (await promiseApp.handler(request, env)) ?? new Response("not found", { status: 404 })
  },
} satisfies ExportedHandler
