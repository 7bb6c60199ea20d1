/**
 * R6 — floods (issue 13, item 5, rooms and channels): socket frames are budgeted in frames AND
 * bytes, per connection and per actor across all its connections in the room or channel; member
 * presence and metadata are bounded by `maxPresenceBytes`. The figures say what the room's other
 * clients saw while a flood ran.
 */
import { env, SELF } from "cloudflare:test"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { instanceConfig } from "../src/Config.js"
import { makeRealtime } from "../src/Realtime.js"
import { httpStatus } from "../src/RealtimeError.js"
import { CurrentRequest } from "../src/services/Identity.js"
import { makeRateBudget } from "../src/services/RateBudget.js"
import { failureOf, runExit, runTest, uniqueId } from "./helpers.js"
import { login } from "./example-session.js"
import { connect, type TestSocket } from "./live-helpers.js"

/** Default limits, big history, no connection cap in the way (see test/worker.ts). */
const floodService = () => makeRealtime(instanceConfig("ssetest"), env as unknown as Record<string, unknown>)
const config = instanceConfig("ssetest")

const median = (values: ReadonlyArray<number>) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!

/** What another client sees: the time to an `ack` of a normal publish, and to a history page. */
const probe = async (socket: TestSocket, roomId: string, tag: string, rounds = 5) => {
  const publishMs: Array<number> = []
  const historyMs: Array<number> = []
  for (let i = 0; i < rounds; i++) {
    const id = `${tag}-${i}`
    let started = Date.now()
    socket.send({ type: "publish", id, message: { type: "chat", data: { text: "hello" } } })
    await socket.waitFor((f) => f.type === "ack" && f.id === id, 20_000)
    publishMs.push(Date.now() - started)
    started = Date.now()
    await runTest(floodService().room(roomId).history({ limit: 50 }))
    historyMs.push(Date.now() - started)
  }
  return { publishMs: median(publishMs), historyMs: median(historyMs) }
}

describe("R6 rate budgets: frames and bytes, per connection and per actor", () => {
  it("an actor's connections share one bucket; a refused frame spends nothing; buckets go with their connections", () => {
    const limits = { perSecond: 10, burst: 5, bytesPerSecond: 1000, bytesBurst: 2000 }
    const budget = makeRateBudget({ connection: limits, actor: { ...limits, burst: 8 } })
    let admitted = 0
    for (let i = 0; i < 20; i++) if (budget.admit(`c${i % 4}`, "user:ada", 10, 0) === undefined) admitted++
    expect(admitted).toBe(8)
    expect(budget.admit("c9", "user:ada", 10, 0)).toMatchObject({ scope: "actor", unit: "frames" })
    expect(budget.admit("c10", "user:bob", 10, 0)).toBeUndefined()
    // Bytes: a 1,500-byte frame fits the 2,000 burst once, then waits for the refill.
    expect(budget.admit("big", "user:carol", 1500, 0)).toBeUndefined()
    expect(budget.admit("big", "user:carol", 1500, 100)).toMatchObject({ scope: "connection", unit: "bytes" })
    expect(budget.admit("big", "user:carol", 1500, 1000)).toBeUndefined()
    // Time refills the actor too.
    expect(budget.admit("c0", "user:ada", 10, 1000)).toBeUndefined()
    for (const id of ["c0", "c1", "c2", "c3", "c9", "c10", "big"]) budget.forget(id)
    expect(budget.size()).toEqual({ connections: 0, actors: 0 })
  })

  /** 40 sockets of one actor send 100 publishes each, as fast as the harness can; bob measures. */
  const floodMany = async (service: ReturnType<typeof floodService>) => {
    const roomId = uniqueId("flood-many")
    const room = service.room(roomId)
    const grant = await runTest(room.authorize({ actor: { type: "user", id: "mallory" } }))
    const bob = await connect(await runTest(room.authorize({ actor: { type: "user", id: "bob" } })))
    for (let n = 0; n < 20; n++) await runTest(room.publish({ type: "seed", data: n, actor: { type: "user", id: "bob" } }))
    const before = await probe(bob, roomId, "before")
    const flooders = await Promise.all(Array.from({ length: 40 }, () => connect(grant)))
    const started = Date.now()
    for (let round = 0; round < 100; round++) {
      for (const socket of flooders) socket.send({ type: "publish", message: { type: "spam", data: { round, text: "x".repeat(100) } } })
    }
    const during = await probe(bob, roomId, "during")
    const closed = await Promise.all(flooders.map((socket) => Promise.race([socket.closed.then((c) => c.code), new Promise((r) => setTimeout(() => r(0), 15_000))])))
    const elapsedS = (Date.now() - started) / 1000
    const stored = (await runTest(room.history({ limit: 1000 }))).messages.filter((m) => m.actor.id === "mallory").length
    for (const socket of flooders) socket.close()
    bob.close()
    return {
      stored,
      elapsedS,
      closed4009: closed.filter((code) => code === 4009).length,
      normalPublishMs: { before: before.publishMs, during: during.publishMs },
      historyMs: { before: before.historyMs, during: during.historyMs },
    }
  }

  it("40 sockets on one grant flooding publishes: the actor gets one budget; other clients keep sane latency", async () => {
    // The `actorflood` instance: the default burst with a refill of 1/s (see test/worker.ts), so what is admitted
    // does not grow with how long a loaded host takes over the flood.
    const budgeted = await floodMany(makeRealtime(instanceConfig("actorflood"), env as unknown as Record<string, unknown>))
    const budget = instanceConfig("actorflood").actorRateLimit
    const allowed = budget.burst + budget.perSecond * budgeted.elapsedS
    console.log(`R6 flood (40 sockets x 100 publishes, one grant) figures: ${JSON.stringify({ ...budgeted, allowedByActorBudget: Math.floor(allowed) })}`)
    expect(budgeted.stored).toBeLessThanOrEqual(allowed)
    expect(budgeted.stored).toBeGreaterThan(0)
    // Per-connection buckets alone would have admitted every frame (100 each, burst 100).
    expect(budgeted.stored).toBeLessThan(4000)
    // Sane bounds on a shared 2-core machine (before budgets, through wrangler dev: history 8.5 s).
    expect(budgeted.normalPublishMs.during).toBeLessThan(2_000)
    expect(budgeted.historyMs.during).toBeLessThan(2_000)
  }, 60_000)

  it("one socket flooding 60 KB frames is held to its byte budget; other clients keep sane latency", async () => {
    const roomId = uniqueId("flood-big")
    const room = floodService().room(roomId)
    const bob = await connect(await runTest(room.authorize({ actor: { type: "user", id: "bob" } })))
    const before = await probe(bob, roomId, "before")
    const mallory = await connect(await runTest(room.authorize({ actor: { type: "user", id: "mallory" } })))
    const frame = JSON.stringify({ type: "publish", message: { type: "big", data: "y".repeat(60_000) } })
    const started = Date.now()
    for (let i = 0; i < 200; i++) mallory.send(frame)
    const during = await probe(bob, roomId, "during")
    const code = await Promise.race([mallory.closed.then((c) => c.code), new Promise<number>((r) => setTimeout(() => r(0), 5_000))])
    const elapsedS = (Date.now() - started) / 1000
    const stored = (await runTest(room.history({ limit: 1000 }))).messages.filter((m) => m.actor.id === "mallory").length
    const limit = config.rateLimit
    const allowedFrames = (limit.bytesBurst + limit.bytesPerSecond * elapsedS) / frame.length
    const figures = {
      framesSent: 200,
      bytesSent: 200 * frame.length,
      stored,
      allowedByByteBudget: Math.floor(allowedFrames),
      closeCode: code,
      normalPublishMs: { before: before.publishMs, during: during.publishMs },
      historyMs: { before: before.historyMs, during: during.historyMs },
    }
    console.log(`R6 flood (one socket, 60 KB frames) figures: ${JSON.stringify(figures)}`)
    expect(stored).toBeLessThanOrEqual(allowedFrames)
    expect(mallory.frames.some((f) => f.type === "error" && f.tag === "LimitExceeded" && /bytes per second/.test(f.message))).toBe(true)
    expect(during.publishMs).toBeLessThan(2_000)
    expect(during.historyMs).toBeLessThan(2_000)
    bob.close()
  })
})

describe("R6 HTTP writes of an identified actor spend the same actor budget as its sockets", () => {
  it("publishes on behalf of an identified caller are held to its actor budget (429), shared with its sockets; explicit actors and other people are not", async () => {
    const service = makeRealtime(instanceConfig("httpbudget"), env as unknown as Record<string, unknown>)
    const budget = instanceConfig("httpbudget").actorRateLimit
    const roomId = uniqueId("flood-http")
    const room = service.room(roomId)
    const as = (user: string) => <A, E>(effect: Effect.Effect<A, E>) =>
      Effect.provideService(effect, CurrentRequest, new Request("http://example.com/", { headers: { "x-test-user": user } }))
    const started = Date.now()
    const outcomes = await Promise.all(Array.from({ length: 40 }, (_, n) => runExit(as("mallory")(room.publish({ type: "spam", data: n })))))
    const elapsedS = (Date.now() - started) / 1000
    const stored = outcomes.filter((exit) => exit._tag === "Success").length
    const refused = outcomes.filter((exit) => exit._tag === "Failure").map((exit) => failureOf(exit))
    console.log(`R6 HTTP flood (one identified caller, 40 concurrent publishes, budget burst ${budget.burst} + ${budget.perSecond}/s) figures: ${JSON.stringify({ stored, refused: refused.length, elapsedS })}`)
    expect(stored).toBeLessThanOrEqual(budget.burst + budget.perSecond * elapsedS)
    expect(refused.length).toBeGreaterThan(0)
    expect(refused.every((error) => error._tag === "LimitExceeded" && httpStatus(error) === 429)).toBe(true)
    // Its socket shares the bucket: drained over HTTP, its socket frames are refused too.
    const socket = await connect(await runTest(room.authorize({ actor: { type: "user", id: "mallory" } })))
    socket.send({ type: "publish", id: "s1", message: { type: "x" } })
    expect(await socket.waitFor((f) => f.type === "error" && f.id === undefined)).toMatchObject({ tag: "LimitExceeded" })
    socket.close()
    // Another person, and server code naming an explicit actor, are not limited by Mallory's flood.
    await runTest(as("ada")(room.publish({ type: "fine" })))
    await runTest(as("mallory")(room.publish({ type: "server", actor: { type: "service", id: "importer" } })))
    await runTest(as("mallory")(room.join({ actor: { type: "service", id: "importer" } })))
    // Joins and presence over HTTP spend it too.
    const presence = await Promise.all(Array.from({ length: 20 }, (_, n) => runExit(as("mallory")(room.presence({ presence: { n } })))))
    expect(presence.filter((exit) => exit._tag === "Failure").map((exit) => failureOf(exit)._tag)).toContain("LimitExceeded")
  })
})

describe("R6 presence and member metadata are bounded by maxPresenceBytes (PayloadTooLarge, 413)", () => {
  const ada = { type: "user", id: "ada" } as const
  const big = { blob: "z".repeat(70_000) }

  it("API, socket frame and the example's HTTP route refuse a 70 KB presence; the stored presence is unchanged", async () => {
    const roomId = uniqueId("presence-size")
    // `livemembers`: livetest with the default 60 s presence TTL, so ada is still listed after the refused attempts.
    const room = makeRealtime(instanceConfig("livemembers"), env as unknown as Record<string, unknown>).room(roomId)
    await runTest(room.join({ actor: ada, presence: { cursor: 1 } }))
    expect(failureOf(await runExit(room.presence({ actor: ada, presence: big })))).toMatchObject({ _tag: "PayloadTooLarge", field: "presence", limit: 4096 })
    expect(failureOf(await runExit(room.join({ actor: ada, presence: big })))).toMatchObject({ _tag: "PayloadTooLarge", field: "presence" })
    expect(failureOf(await runExit(room.join({ actor: ada, metadata: big })))).toMatchObject({ _tag: "PayloadTooLarge", field: "metadata" })
    // Growing presence key by key stops at the limit too.
    let refused = 0
    for (let i = 0; i < 10; i++) {
      const exit = await runExit(room.presence({ actor: ada, presence: { [`k${i}`]: "w".repeat(1000) } }))
      if (exit._tag === "Failure") refused++
    }
    expect(refused).toBeGreaterThan(0)
    const member = (await runTest(room.members())).members.find((m) => m.actor.id === "ada")!
    expect(JSON.stringify(member.presence).length).toBeLessThanOrEqual(4096)
    expect(member.presence.cursor).toBe(1)
    const session = await login("Ada")
    const response = await SELF.fetch(`http://example.com/rooms/${roomId}/presence`, {
      method: "POST",
      headers: session.headers(),
      body: JSON.stringify({ presence: { blob: "z".repeat(70_000) } }),
    })
    expect(response.status).toBe(413)
    expect(await response.json()).toMatchObject({ error: { _tag: "PayloadTooLarge", field: "presence" } })
    // Over a socket (the frame itself is under maxFrameBytes of the default instance).
    const floodRoom = floodService().room(roomId)
    const socket = await connect(await runTest(floodRoom.authorize({ actor: ada })))
    socket.send({ type: "presence", id: "p", presence: { blob: "z".repeat(10_000) } })
    expect(await socket.waitFor((f) => f.type === "error" && f.id === "p")).toMatchObject({ tag: "PayloadTooLarge" })
    socket.close()
  })
})
