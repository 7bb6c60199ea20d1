/**
 * The calling Worker of the cross-isolate topology. It has no Durable Object classes: its
 * bindings point at the objects' script (`script_name`). It imports the same declarations as
 * the objects' script, and declares one instance and one database that script never sees.
 */
import { realtime } from "../../src/facade.js"
import { db, table, text } from "../../src/db/index.js"
import { boards, promiseApp } from "./app.js"

/** Declared only here: the objects' isolate has never heard of it. */
export const callerOnly = realtime({ name: "xi-caller-only", historyLimit: 5 })
export const callerOnlyDb = db({ name: "xi-caller-only-db", schema: { items: table({ id: text().primaryKey() }) } })

export default {
  async fetch(request: Request, env: unknown) {
    return (await boards.handler(request, env)) ?? (await promiseApp.handler(request, env)) ?? new Response("not found", { status: 404 })
  },
} satisfies ExportedHandler
