/**
 * The application both scripts of the cross-isolate topology import, as one codebase deployed as
 * a Worker plus a script of Durable Objects would: every instance and database is declared here,
 * at module scope. Hooks record what they saw in this module, so in the objects' script they
 * prove they ran there (the calling Worker never runs them).
 */
import { Effect } from "effect"
import { Realtime } from "../../src/Realtime.js"
import { realtime } from "../../src/facade.js"
import type { LiveHooks } from "../../src/Config.js"
import { db, integer, table, text } from "../../src/db/index.js"

/** Connection ids each instance's `onClose` saw, in the isolate that ran it. */
export const closedLog: Record<string, Array<string>> = {}

const hooksOf = (instance: string): LiveHooks => ({
  onJoin: (connection, api) => Effect.sync(() => api.reply({ type: "welcome", data: { instance, actor: connection.actor.id } })),
  onMessage: (_connection, event, api) => Effect.sync(() => api.reply({ type: "echo", data: { instance, got: event.data } })),
  onClose: (connection) =>
    Effect.sync(() => {
      ;(closedLog[instance] ??= []).push(connection.connectionId)
    }),
})

/** Limits far from the defaults (1,000 messages, 64 KiB, 50/s burst 100), so defaults would show. */
export const promiseApp = realtime({
  name: "xi-promise",
  historyLimit: 3,
  maxPayloadBytes: 200,
  rateLimit: { perSecond: 1, burst: 3 },
  hooks: hooksOf("xi-promise"),
})

/** An Effect-only app: the instance exists only through this module-scope layer. */
export const EffectAppLive = Realtime.layer({
  name: "xi-effect",
  historyLimit: 2,
  maxPayloadBytes: 150,
  rateLimit: { perSecond: 1, burst: 2 },
  hooks: hooksOf("xi-effect"),
})

export const notes = table({
  id: integer().primaryKey(),
  board: text().notNull().index(),
  body: text().notNull(),
})

export const boards = db({
  name: "xidb",
  schema: { notes },
  realtime: { tables: { notes: { filters: ["board"], requiredFilters: ["board"], access: "public" } } },
  shards: 3,
})
