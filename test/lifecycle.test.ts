/**
 * Lifecycle logic of rooms and channels (active → idle → active, destroyed) on the in-memory
 * storage layers, with TestClock: no real sleeps. The last test runs a room's operations with the
 * idle job on the memory alarm (`JobsMemory.advance`); real alarms in workerd: jobs.test.ts.
 */
import { Effect, Exit, Layer, TestClock, TestContext } from "effect"
import { describe, expect, it } from "vitest"
import { resolveConfig } from "../src/Config.js"
import { ActorContext } from "../src/actors/Actor.js"
import { IDLE_JOB, makeLifecycle } from "../src/actors/messaging/Lifecycle.js"
import { makeMessaging } from "../src/actors/messaging/Messaging.js"
import { Connections, type ConnectionsShape } from "../src/sockets/Connections.js"
import { DirectoryClient } from "../src/services/Directory.js"
import * as JobsMemory from "../src/services/JobsMemory.js"
import type { RoomState } from "../src/schema/Room.js"
import { makeMessageLog } from "../src/actors/messaging/MessageLog.js"
import { anonymousActor } from "../src/schema/Common.js"
import * as ActorFacts from "../src/storage/ActorFacts.js"
import * as MessageStore from "../src/storage/MessageStore.js"
import { failureOf } from "./helpers.js"

const T0 = 1_800_000_000_000
const IDLE_AFTER = 60_000

/** Jobs and connections as the lifecycle sees them: recorded calls and a settable count. */
const fakes = () => {
  const calls: Array<string> = []
  let open = 0
  return {
    calls,
    setOpen: (n: number) => void (open = n),
    jobs: {
      ensure: (name: string, at: number) => Effect.sync(() => void calls.push(`ensure ${name} +${at - T0}`)),
      cancel: (name: string) => Effect.sync(() => void calls.push(`cancel ${name}`)),
    },
    connections: { count: () => open },
  }
}

const run = <A, E>(body: Effect.Effect<A, E, ActorFacts.ActorFacts | MessageStore.MessageStore>) =>
  Effect.runPromise(
    Effect.zipRight(TestClock.setTime(T0), body).pipe(
      Effect.provide(Layer.merge(ActorFacts.layerMemory, MessageStore.layerMemory)),
      Effect.provide(TestContext.TestContext),
    ),
  )

const setup = (world: ReturnType<typeof fakes>) =>
  Effect.gen(function* () {
    const facts = yield* ActorFacts.ActorFacts
    const log = yield* makeMessageLog({ historyLimit: 100, maxPayloadBytes: 1024, idempotency: "retry" })
    const lifecycle = yield* makeLifecycle({
      facts,
      jobs: world.jobs,
      connections: world.connections,
      log,
      idleAfterMs: IDLE_AFTER,
      kind: "room",
      id: "r1",
    })
    return { log, lifecycle }
  })

describe("Lifecycle on memory storage, under TestClock", () => {
  it("goes idle only after idleAfterMs without messages or touches, and active again on the next write", async () => {
    const world = fakes()
    const result = await run(
      Effect.gen(function* () {
        const { log, lifecycle } = yield* setup(world)
        const steps: Array<unknown> = [lifecycle.status()]
        yield* lifecycle.touch(T0, false)
        yield* TestClock.adjust(10_000)
        yield* log.append({ type: "m", data: null }, anonymousActor, T0 + 10_000)
        yield* lifecycle.touch(T0 + 10_000, false) // armed already: no second ensure
        yield* TestClock.adjust(IDLE_AFTER - 10_000)
        // Due at T0 + IDLE_AFTER, but a message came 10 s later: come back then.
        steps.push(yield* lifecycle.idleJob, lifecycle.status())
        yield* TestClock.adjust(10_000)
        steps.push(yield* lifecycle.idleJob, lifecycle.status())
        // Quiet state is kept; the next touch (metadata, a join) makes it active and re-arms.
        yield* TestClock.adjust(5_000)
        yield* lifecycle.touch(T0 + IDLE_AFTER + 15_000, true)
        steps.push(lifecycle.status(), yield* lifecycle.lastActivity)
        return steps
      }),
    )
    expect(result).toEqual([
      { status: "active", since: T0 },
      T0 + 10_000 + IDLE_AFTER,
      { status: "active", since: T0 },
      null,
      { status: "idle", since: T0 + 10_000 + IDLE_AFTER },
      { status: "active", since: T0 + IDLE_AFTER + 15_000 },
      T0 + IDLE_AFTER + 15_000,
    ])
    expect(world.calls).toEqual([`ensure ${IDLE_JOB} +${IDLE_AFTER}`, `ensure ${IDLE_JOB} +${2 * IDLE_AFTER + 15_000}`])
  })

  it("stays active while connections are open, and a destroyed room refuses writes and survives a restart", async () => {
    const world = fakes()
    const result = await run(
      Effect.gen(function* () {
        const { lifecycle } = yield* setup(world)
        yield* lifecycle.touch(T0, true)
        world.setOpen(1)
        yield* TestClock.adjust(IDLE_AFTER * 3)
        const whileOpen = yield* lifecycle.idleJob
        const statusOpen = lifecycle.status().status
        world.setOpen(0)
        yield* lifecycle.markDestroyed
        const write = yield* Effect.exit(lifecycle.assertWritable)
        const jobAfter = yield* lifecycle.idleJob
        // Restart: a new lifecycle over the same stored facts.
        const restarted = yield* setup(world)
        return {
          whileOpen,
          statusOpen,
          write,
          jobAfter,
          restarted: { status: restarted.lifecycle.status(), createdAt: restarted.lifecycle.createdAt() },
          writeAfterRestart: yield* Effect.exit(restarted.lifecycle.assertWritable),
        }
      }),
    )
    expect(result.whileOpen).toBe(T0 + 4 * IDLE_AFTER)
    expect(result.statusOpen).toBe("active")
    expect(failureOf(result.write)._tag).toBe("RoomDestroyed")
    expect(result.jobAfter).toBeNull()
    expect(result.restarted).toEqual({ status: { status: "destroyed", since: T0 + 3 * IDLE_AFTER }, createdAt: T0 })
    expect(Exit.isFailure(result.writeAfterRestart)).toBe(true)
    expect(world.calls).toEqual([`ensure ${IDLE_JOB} +${IDLE_AFTER}`, `cancel ${IDLE_JOB}`])
  })

  // Converted from metadata-lifecycle.test.ts (it slept 300 ms of a real 200 ms idleAfterMs): the room's
  // operations on memory storage, the idle job on the memory alarm under TestClock.
  it("is active on use, becomes idle after idleAfterMs without activity, and active again on the next write", async () => {
    const noSockets: ConnectionsShape = {
      count: () => 0,
      broadcast: () => 0,
      closeAll: () => 0,
      invalidate: () => undefined,
      added: () => undefined,
      list: () => [],
      sendTo: () => 0,
      addSink: () => undefined,
      removeSink: () => undefined,
      sinks: () => [],
    }
    const room = Layer.mergeAll(
      ActorFacts.layerMemory,
      MessageStore.layerMemory,
      JobsMemory.layerMemory,
      Layer.succeed(Connections, noSockets),
      Layer.succeed(DirectoryClient, { report: () => Effect.void }),
      Layer.succeed(ActorContext, { kind: "room", address: { instance: "lifecycle-unit", id: "idle" }, config: resolveConfig({ name: "lifecycle-unit", idleAfterMs: 200 }) }),
    )
    const result = await Effect.runPromise(
      Effect.gen(function* () {
        yield* TestClock.setTime(T0)
        const messaging = yield* makeMessaging()
        const state = Effect.map(messaging.operations.state({}, undefined), (answer) => answer as RoomState)
        yield* messaging.operations.publish({ type: "hello" }, undefined)
        const active = yield* state
        yield* JobsMemory.advance(300, messaging.jobs)
        const idle = yield* state
        yield* messaging.operations.publish({ type: "back" }, undefined)
        return { active, idle, again: yield* state }
      }).pipe(Effect.provide(room), Effect.provide(TestContext.TestContext)),
    )
    expect(result.active.status).toBe("active")
    expect(result.idle.status).toBe("idle")
    expect(Date.parse(result.idle.since)).toBeGreaterThanOrEqual(Date.parse(result.idle.lastActivityAt))
    expect(result.again.status).toBe("active")
    expect(Date.parse(result.again.since)).toBeGreaterThan(Date.parse(result.idle.since))
  })
})
