/**
 * Members logic (TTL expiry, orphans at wake, batched presence) on the in-memory member store with
 * TestClock: no real sleeps (the TTL test fires the expiry job on the memory alarm with
 * `JobsMemory.advance`). The integration proofs on real objects, sockets and alarms are
 * presence.test.ts and reliability-presence.test.ts.
 */
import { Effect, TestClock, TestContext } from "effect"
import { describe, expect, it } from "vitest"
import { resolveConfig } from "../src/Config.js"
import { makeMembers, MEMBER_EXPIRY_JOB, PRESENCE_FLUSH_JOB, type Members } from "../src/actors/room/Members.js"
import type { ConnectionEntry, ConnectionsShape } from "../src/sockets/Connections.js"
import { Jobs, type JobsShape } from "../src/services/Jobs.js"
import * as JobsMemory from "../src/services/JobsMemory.js"
import * as JobStore from "../src/storage/JobStore.js"
import * as MemberStore from "../src/storage/MemberStore.js"

const T0 = 1_800_000_000_000
const TTL = 1_000
const INTERVAL = 100
const config = resolveConfig({ name: "members-unit", presenceTtlMs: TTL, presenceIntervalMs: INTERVAL })

/**
 * Jobs kept in a map (earliest `ensure` wins, as the real service), and a room that records its
 * frames, with the given open sockets (entries for members that are connected).
 */
const world = (open: ReadonlyArray<ConnectionEntry> = []) => {
  const scheduled = new Map<string, number>()
  const frames: Array<{ readonly type: string } & Record<string, unknown>> = []
  const jobs: JobsShape = {
    schedule: (name, at) => Effect.sync(() => void scheduled.set(name, at)),
    ensure: (name, at) => Effect.sync(() => void scheduled.set(name, Math.min(at, scheduled.get(name) ?? Infinity))),
    cancel: (name) => Effect.sync(() => void scheduled.delete(name)),
    pending: Effect.sync(() => [...scheduled].map(([name, runAt]) => ({ name, runAt, attempts: 0 }))),
    runDue: () => Effect.succeed([]),
    rearm: Effect.void,
  }
  const connections: ConnectionsShape = {
    count: () => open.length,
    broadcast: (frame) => (frames.push(JSON.parse(frame)), 0),
    closeAll: () => 0,
    invalidate: () => undefined,
    added: () => undefined,
    list: () => open,
    sendTo: () => 0,
    addSink: () => undefined,
    removeSink: () => undefined,
    sinks: () => [],
  }
  return { scheduled, frames, jobs, connections }
}

const run = <A, E>(body: (store: MemberStore.MemberStoreShape) => Effect.Effect<A, E>) =>
  Effect.runPromise(
    Effect.gen(function* () {
      yield* TestClock.setTime(T0)
      return yield* body(MemberStore.makeMemory())
    }).pipe(Effect.provide(TestContext.TestContext)),
  )

const user = (id: string) => ({ type: "user" as const, id })

describe("Members on the memory store, under TestClock", () => {
  it("expires HTTP members after the TTL, a refresh postpones it, and expiry survives a restart", async () => {
    const w = world()
    const result = await run((store) =>
      Effect.gen(function* () {
        const members = yield* makeMembers({ store, jobs: w.jobs, connections: w.connections, config })
        yield* members.join({ actor: user("http-user"), presence: { status: "online" }, via: "http" })
        yield* members.join({ actor: user("refresher"), via: "http" })
        const firstExpiry = w.scheduled.get(MEMBER_EXPIRY_JOB)
        yield* TestClock.adjust(600)
        yield* members.updatePresence(user("refresher"), { status: "still here" }, "http")
        yield* TestClock.adjust(450)
        const next = yield* members.jobs[MEMBER_EXPIRY_JOB]
        yield* members.jobs[PRESENCE_FLUSH_JOB]
        const afterFirst = members.list().map((m) => m.id)
        // Restart: a new Members over the same store, as after an eviction.
        const woken = yield* makeMembers({ store, jobs: w.jobs, connections: w.connections, config })
        const afterWake = woken.list().map((m) => ({ id: m.id, presence: m.presence }))
        yield* TestClock.adjust(next! - (T0 + 1_050))
        const last = yield* woken.jobs[MEMBER_EXPIRY_JOB]
        return { firstExpiry, next, afterFirst, afterWake, last, remaining: woken.list().length, stored: (yield* store.loadAll).length }
      }),
    )
    expect(result.firstExpiry).toBe(T0 + TTL)
    expect(result.next).toBe(T0 + 600 + TTL)
    expect(result.afterFirst).toEqual(["user:refresher"])
    expect(result.afterWake).toEqual([{ id: "user:refresher", presence: { status: "still here" } }])
    expect(result.last).toBeNull()
    expect(result.remaining).toBe(0)
    expect(result.stored).toBe(0)
    const left = w.frames.filter((f) => f.type === "members").flatMap((f) => f["left"] as Array<{ member: { id: string }; reason: string }>)
    expect(left.map((entry) => [entry.member.id, entry.reason])).toEqual([
      ["user:http-user", "expired"],
      ["user:refresher", "expired"],
    ])
  })

  it("gives socket members whose sockets are gone at wake the TTL, then removes them", async () => {
    const w = world()
    const result = await run((store) =>
      Effect.gen(function* () {
        const before = yield* makeMembers({ store, jobs: w.jobs, connections: w.connections, config })
        yield* before.join({ actor: user("carol"), via: "socket" })
        yield* TestClock.adjust(5_000)
        // The object was reset: no socket is listed when it wakes.
        const woken = yield* makeMembers({ store, jobs: w.jobs, connections: w.connections, config })
        const atWake = woken.list().map((m) => ({ id: m.id, expiresAt: m.expiresAt }))
        const job = w.scheduled.get(MEMBER_EXPIRY_JOB)
        yield* TestClock.adjust(TTL)
        yield* woken.jobs[MEMBER_EXPIRY_JOB]
        return { atWake, job, after: woken.list().length }
      }),
    )
    expect(result.job).toBe(T0 + 5_000 + TTL)
    expect(result.atWake).toEqual([{ id: "user:carol", expiresAt: new Date(T0 + 5_000 + TTL).toISOString() }])
    expect(result.after).toBe(0)
  })

  it("batches presence changes of one interval into one frame and one store write", async () => {
    const w = world()
    const result = await run((store) =>
      Effect.gen(function* () {
        const members = yield* makeMembers({ store, jobs: w.jobs, connections: w.connections, config })
        yield* members.join({ actor: user("a"), via: "socket" })
        yield* members.join({ actor: user("b"), via: "socket" })
        // The second join fell inside the interval: its flush job runs at the interval's end (the alarm).
        const joinFlushAt = w.scheduled.get(PRESENCE_FLUSH_JOB)
        yield* TestClock.adjust(INTERVAL)
        yield* members.jobs[PRESENCE_FLUSH_JOB]
        yield* members.updatePresence(user("a"), { x: 1 }, "socket")
        yield* members.updatePresence(user("a"), { x: 2 }, "socket")
        yield* members.updatePresence(user("b"), { y: 1 }, "socket")
        const flushAt = w.scheduled.get(PRESENCE_FLUSH_JOB)
        const framesBefore = w.frames.filter((f) => f.type === "presence").length
        yield* TestClock.adjust(INTERVAL)
        yield* members.jobs[PRESENCE_FLUSH_JOB]
        const presenceFrames = w.frames.filter((f) => f.type === "presence")
        const stored = Object.fromEntries((yield* store.loadAll).map((m) => [m.key, m.presence]))
        return { joinFlushAt, flushAt, framesBefore, last: presenceFrames[presenceFrames.length - 1], count: presenceFrames.length, stored }
      }),
    )
    expect(result.joinFlushAt).toBe(T0 + INTERVAL)
    expect(result.flushAt).toBe(T0 + 2 * INTERVAL)
    expect(result.framesBefore).toBe(0)
    expect(result.count).toBe(1)
    expect(result.last).toEqual({
      type: "presence",
      updates: [
        { member: "user:a", actor: user("a"), presence: { x: 2 } },
        { member: "user:b", actor: user("b"), presence: { y: 1 } },
      ],
    })
    expect(result.stored).toEqual({ "user:a": { x: 2 }, "user:b": { y: 1 } })
  })

  // Converted from presence.test.ts (it slept 600 ms and 450 ms of a real 1 s TTL): the same steps and
  // assertions, with the expiry job on the memory alarm under TestClock and a restart for the eviction.
  it("expires HTTP members after the TTL through the durable job, also after the object restarted", async () => {
    const w = world([{ socket: { readyState: 1 } as WebSocket, id: "watcher-socket", attachment: { connectionId: "watcher-socket", member: "user:watcher" } }])
    const jobStore = JobStore.makeMemory()
    const alarm = JobsMemory.makeMemoryAlarm()
    /** One life of the object: Members over the same member store, jobs over the same rows and alarm. */
    const life = <A, E>(body: (members: Members) => Effect.Effect<A, E, Jobs | JobsMemory.MemoryAlarm>) => (store: MemberStore.MemberStoreShape) =>
      Effect.gen(function* () {
        const members = yield* makeMembers({ store, jobs: yield* Jobs, connections: w.connections, config })
        return yield* body(members)
      }).pipe(Effect.provide(JobsMemory.layerOver(jobStore, alarm)))
    const result = await run((store) =>
      Effect.gen(function* () {
        const first = yield* life((members) =>
          Effect.gen(function* () {
            yield* members.join({ actor: user("watcher"), via: "socket" })
            yield* members.join({ actor: user("http-user"), presence: { status: "online" }, via: "http" })
            yield* members.join({ actor: user("refresher"), via: "http" })
            // The expiry lives in a job row: find it.
            const jobs = (yield* (yield* Jobs).pending).map((job) => job.name)
            // Refresh one member halfway through the 1 s TTL.
            yield* JobsMemory.advance(600, members.jobs)
            yield* members.updatePresence(user("refresher"), { status: "still here" }, "http")
            return { jobs }
          }),
        )(store)
        // Restart (the eviction) before the first expiry: it must come from stored rows and the job, not memory.
        return yield* life((members) =>
          Effect.gen(function* () {
            yield* JobsMemory.advance(450, members.jobs)
            const afterFirst = members.list().map((m) => m.id).sort()
            // The refreshed member expires later, and the socket member never does.
            yield* JobsMemory.advance(TTL, members.jobs)
            return { ...first, afterFirst, afterAll: members.list().map((m) => m.id) }
          }),
        )(store)
      }),
    )
    expect(result.jobs).toContain(MEMBER_EXPIRY_JOB)
    const left = w.frames.filter((f) => f.type === "members").flatMap((f) => f["left"] as Array<{ member: { id: string }; reason: string }>)
    expect(left.find((entry) => entry.member.id === "user:http-user")?.reason).toBe("expired")
    expect(result.afterFirst).toEqual(["user:refresher", "user:watcher"])
    expect(result.afterAll).toEqual(["user:watcher"])
    expect(left.map((entry) => [entry.member.id, entry.reason])).toEqual([
      ["user:http-user", "expired"],
      ["user:refresher", "expired"],
    ])
  })
})
