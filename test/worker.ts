/**
 * The Worker the test suite runs against: the example app (its default export and Durable Object
 * classes) plus instances with small limits for tests, and the live routes in front.
 */
import { Effect } from "effect"
import { CurrentRequest, identityFromHeaders, realtime, Unauthorized, type Actor, type RealtimeOptions } from "../src/index.js"
import { liveHandler } from "../src/http/LiveRoutes.js"
import example from "../examples/worker.js"
import { testDb } from "./db-schema.js"
import { seed003 } from "./db-seed003-app.js"
import { seedRoutes } from "./transport-seed.js"

export * from "../examples/worker.js"

/** Identity headers trusted on purpose, under a name only a (hypothetical) edge sets: the opt-in. */
export const headerIdentityInstance = realtime({ name: "headerid", identify: identityFromHeaders({ userId: "x-edge-user", userName: "x-edge-name" }) })

/**
 * `identify` backed by the test's own "authentication": `Authorization: Test <mode> <id>` answers
 * in each form identify may take (sync, async, Effect), refuses, throws or answers garbage.
 */
const testIdentify = (request: Request) => {
  const [scheme, mode, id = ""] = (request.headers.get("authorization") ?? "").split(" ")
  if (scheme !== "Test") return undefined
  const actor: Actor = { type: "user", id, name: `${mode} ${id}` }
  switch (mode) {
    case "sync":
      return actor
    case "async":
      return Promise.resolve(actor)
    case "effect":
      return Effect.succeed(actor)
    case "deny":
      return Effect.fail(new Unauthorized({ reason: "invalid", message: "session expired" }))
    case "reject":
      return Promise.reject(new Unauthorized({ reason: "expired", message: "session expired" }))
    case "throw":
      throw new Error("identity provider unreachable")
    case "garbage":
      return { type: "admin", id } as unknown as Actor
    default:
      return null
  }
}
export const identifiedInstance = realtime({ name: "identified", identify: testIdentify })

/** `identify` as an Effect that reads the request itself: a (test) session header checked server-side. */
export const effectIdentifiedInstance = realtime({
  name: "identified-effect",
  identify: Effect.map(CurrentRequest, (request): Actor | undefined => (request.headers.get("x-test-session") === "valid:carol" ? { type: "user", id: "carol" } : undefined)),
})

/** Small limits so pruning, idling and payload checks are quick to reach. */
export const testInstance = realtime({ name: "test", historyLimit: 20, maxPayloadBytes: 1024, idleAfterMs: 200 })
export const otherInstance = realtime({ name: "other" })
/** Idempotency keys must carry the same payload on retry (the opt-in rule). */
export const strictInstance = realtime({ name: "strict", idempotency: "strict" })
/** Its own directory, so the inspector test can page through exactly what it made. */
export const inspectInstance = realtime({ name: "inspecttest" })

/** Live connections with small limits and every hook, for the socket/SSE/presence tests. */
const liveTestOptions = {
  name: "livetest",
  historyLimit: 10,
  maxConnections: 3,
  maxFrameBytes: 2048,
  rateLimit: { perSecond: 5, burst: 10 },
  presenceTtlMs: 1_000,
  presenceIntervalMs: 100,
  heartbeat: 1_000,
  hooks: {
    onJoin: (connection, api) => Effect.sync(() => api.reply({ type: "welcome", data: { actor: connection.actor.id } })),
    onMessage: (connection, event, api) =>
      Effect.gen(function* () {
        if (event.type === "echo") api.reply({ type: "echo", data: event.data })
        else if (event.type === "shout") yield* api.publish({ type: "shouted", data: { by: connection.actor.id, text: event.data } })
        else if (event.type === "fail") yield* Effect.fail("refused by hook")
      }),
    onClose: (connection) =>
      Effect.sync(() => {
        closedConnections.push(connection.connectionId)
      }),
  },
} satisfies RealtimeOptions
export const liveTestInstance = realtime(liveTestOptions)

/**
 * `livetest` with the default presence TTL (60 s): for tests of HTTP members over several steps. Under
 * livetest's 1 s TTL a loaded host let such a member expire between two steps of one test.
 */
export const liveMembersInstance = realtime({ ...liveTestOptions, name: "livemembers", presenceTtlMs: 60_000 })

/** CRDT rooms with a small compaction threshold, so automatic compaction is quick to reach. */
export const crdtTestInstance = realtime({ name: "crdttest", yjs: { compactAfterUpdates: 20 }, maxConnections: 20 })

/** CRDT rooms whose byte budgets let one connection send several MiB at once (coalesced rows stay within one row's bound). */
export const crdtBulkInstance = realtime({
  name: "crdtbulk",
  rateLimit: { bytesPerSecond: 16 * 1024 * 1024, bytesBurst: 16 * 1024 * 1024 },
  actorRateLimit: { bytesPerSecond: 16 * 1024 * 1024, bytesBurst: 16 * 1024 * 1024 },
})

/**
 * CRDT rooms that store coalesced y-websocket updates only when something makes them: their store
 * intervals (a minute) outlast any test, so how many rows a burst becomes depends on what the test
 * sends (an ordered frame that stores what is pending, 1 MiB of pending updates), never on how fast
 * a loaded host processes the burst.
 */
export const crdtStoreInstance = realtime({
  name: "crdtstore",
  // The tests read the stored update rows: no fold into the base while they do (the default folds past 1 MiB of log).
  yjs: { storeIntervalMs: 60_000, loneStoreIntervalMs: 60_000, compactAfterBytes: 64 * 1024 * 1024 },
  // One connection may send several MiB at once (the pending-bytes bound is 1 MiB).
  rateLimit: { bytesPerSecond: 16 * 1024 * 1024, bytesBurst: 16 * 1024 * 1024 },
  actorRateLimit: { bytesPerSecond: 16 * 1024 * 1024, bytesBurst: 16 * 1024 * 1024 },
})

/** Big history and default limits (1 MiB SSE buffer): slow SSE readers and floods (issue 13, R6). */
export const sseTestInstance = realtime({ name: "ssetest", historyLimit: 1000 })

/**
 * An actor budget of the default burst (200) that refills at 1 frame/s instead of 100: a flood of
 * 4,000 frames spends it whatever the host's speed. At 100/s the frames a slow host took longer over
 * were refilled and admitted, each fanned out to 41 sockets, which made it slower still (61 s at
 * load 8, against 8 s alone).
 */
export const actorFloodInstance = realtime({ name: "actorflood", actorRateLimit: { perSecond: 1 } })

/** Identified HTTP writers (test header) with a small actor budget: HTTP writes share it with sockets. */
export const httpBudgetInstance = realtime({
  name: "httpbudget",
  identify: identityFromHeaders({ userId: "x-test-user" }),
  actorRateLimit: { perSecond: 5, burst: 10 },
})

/** Connection ids seen by the `onClose` hook (same isolate as the Durable Objects in tests). */
export const closedConnections: Array<string> = []

const live = liveHandler()

export default {
  async fetch(request: Request, env: unknown, ctx: ExecutionContext) {
    // Seed 003's token route (its database's change stream is served by any database handler).
    if (new URL(request.url).pathname === "/realtime/posts/token") return seed003.fetch!(request as never, env, ctx as never)
    return (await testDb.handler(request, env)) ?? (await live(request, env)) ?? (await seedRoutes(request)) ?? example.fetch!(request as never, env as never, ctx)
  },
} satisfies ExportedHandler
