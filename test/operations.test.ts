/**
 * Operations are declared once per actor kind (`src/actors/Ops.ts`, `src/internal/Operations.ts`):
 * the Worker decodes every answer with the operation's success Schema, the actor encodes it with
 * the same Schema, and the dispatcher answers only the declared names.
 */
import { env } from "cloudflare:test"
import { Effect, Exit, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { instanceConfig } from "../src/Config.js"
import { RoomOps } from "../src/actors/Ops.js"
import * as Operations from "../src/internal/Operations.js"
import { EncodedExit, encodeExit, sendToActor, type ActorNamespace } from "../src/internal/rpc.js"
import { makeRealtime } from "../src/Realtime.js"
import { RoomDestroyed, StorageFailure } from "../src/RealtimeError.js"
import { failureOf, runExit, runTest, service, uniqueId } from "./helpers.js"

const bindings = env as unknown as Record<string, unknown>

/** A room namespace whose every object answers `answer` (what a broken or foreign object could send). */
const stubbedRooms = (answer: unknown): ActorNamespace => ({
  idFromName: (name) => ({ name }) as unknown as DurableObjectId,
  get: () => ({ invoke: async () => answer }),
})

/** The test instance's service over a stubbed room namespace. */
const overStub = (answer: unknown) => makeRealtime(instanceConfig("test"), { ...bindings, REALTIME_ROOMS: stubbedRooms(answer) })

const storedMessage = {
  id: "m1",
  seq: 1,
  epoch: "e1",
  type: "note",
  data: { text: "hi" },
  actor: { type: "service", id: "svc" },
  createdAt: "2026-11-30T00:00:00.000Z",
}

describe("declared operations: answers are decoded with their Schema", () => {
  it("a success value that does not match the declared Schema fails with StorageFailure instead of passing through", async () => {
    const wrong = encodeExit(Exit.succeed({ message: { id: 42 }, duplicate: "no" }))
    const failure = failureOf(await runExit(overStub(wrong).room(uniqueId("stub")).publish({ type: "note" })))
    expect(failure).toMatchObject({ _tag: "StorageFailure" })
    expect(failure.message).toContain("publish: undecodable answer")
  })

  it("a matching success value is decoded, and a typed failure arrives as its class", async () => {
    const right = encodeExit(Exit.succeed({ message: storedMessage, duplicate: false }))
    const result = await runTest(overStub(right).room(uniqueId("stub")).publish({ type: "note" }))
    expect(result).toEqual({ message: storedMessage, duplicate: false })
    const destroyed = encodeExit(Exit.fail(new RoomDestroyed({ kind: "room", id: "r", message: "room r was destroyed" })))
    const failure = failureOf(await runExit(overStub(destroyed).room(uniqueId("stub")).history()))
    expect(failure).toBeInstanceOf(RoomDestroyed)
  })

  it("a failure outside the operation's declared error union is refused too", async () => {
    // The directory's stats declare StorageFailure only (besides the boundary's errors).
    const destroyed = encodeExit(Exit.fail(new RoomDestroyed({ kind: "room", id: "r", message: "room r was destroyed" })))
    const realtime = makeRealtime(instanceConfig("test"), { ...bindings, REALTIME_DIRECTORY: stubbedRooms(destroyed) })
    const failure = failureOf(await runExit(realtime.stats()))
    expect(failure).toMatchObject({ _tag: "StorageFailure" })
    expect(failure.message).toContain("stats: undecodable answer")
    const declared = encodeExit(Exit.fail(new StorageFailure({ message: "disk on fire" })))
    const passed = failureOf(await runExit(makeRealtime(instanceConfig("test"), { ...bindings, REALTIME_DIRECTORY: stubbedRooms(declared) }).stats()))
    expect(passed).toBeInstanceOf(StorageFailure)
    expect(passed.message).toBe("disk on fire")
  })

  it("an answer that is not an Exit at all fails with StorageFailure", async () => {
    const failure = failureOf(await runExit(overStub({ hello: "world" }).room(uniqueId("stub")).state()))
    expect(failure).toMatchObject({ _tag: "StorageFailure" })
  })

  it("the actor side refuses to send a value its declaration cannot encode (typed StorageFailure)", async () => {
    // A transforming success Schema is encoded by the actor; a plain one is checked by the Worker's decode.
    const probe = Operations.make("probe", { payload: Schema.Struct({}), success: Schema.Struct({ at: Schema.DateFromString }) })
    const dispatch = Operations.serve(probe, () => Effect.succeed({ at: "yesterday" } as unknown as { at: Date }))
    const failure = failureOf(await runExit(dispatch({}, undefined)))
    expect(failure).toMatchObject({ _tag: "StorageFailure" })
    expect(failure.message).toContain("probe: the actor's answer does not match its declaration")
    expect(await runTest(Operations.serve(probe, () => Effect.succeed({ at: new Date(0) }))({}, undefined))).toEqual({ at: "1970-01-01T00:00:00.000Z" })
  })

  it("values of plain Schemas cross as they are; transforming ones are encoded", () => {
    expect(Operations.encodesToItself(RoomOps.history.success.ast)).toBe(true)
    expect(Operations.encodesToItself(Schema.Struct({ at: Schema.DateFromString }).ast)).toBe(false)
    expect(Operations.encodesToItself(Schema.Array(Schema.Struct({ n: Schema.NumberFromString })).ast)).toBe(false)
  })
})

describe("declared operations: the dispatcher answers only declared names", () => {
  const rooms = bindings.REALTIME_ROOMS as ActorNamespace
  const rawCall = (op: string) =>
    Effect.flatMap(sendToActor(rooms, "room", { instance: "test", id: uniqueId("ops") }, op, {}), (answer) =>
      Effect.flatMap(Effect.orDie(Schema.decodeUnknown(EncodedExit)(answer)), (exit) => exit),
    )

  it("refuses an unknown operation name with InvalidInput naming it, for every kind", async () => {
    const failure = failureOf(await runExit(rawCall("noSuchOperation")))
    expect(failure).toMatchObject({ _tag: "InvalidInput", field: "op" })
    expect(failure.message).toContain('room has no operation "noSuchOperation"')
    for (const [binding, kind, id] of [["REALTIME_CHANNELS", "channel", uniqueId("ops")], ["REALTIME_CRDT_ROOMS", "crdtRoom", uniqueId("ops")], ["REALTIME_DIRECTORY", "directory", "directory"]] as const) {
      const exit = await runExit(
        Effect.flatMap(sendToActor(bindings[binding] as ActorNamespace, kind, { instance: "test", id }, "toString", {}), (answer) =>
          Effect.flatMap(Effect.orDie(Schema.decodeUnknown(EncodedExit)(answer)), (decoded) => decoded),
        ),
      )
      expect(failureOf(exit)).toMatchObject({ _tag: "InvalidInput", field: "op", message: `op: ${kind} has no operation "toString"` })
    }
  })

  it("refuses names every object inherits (toString, constructor, __proto__, hasOwnProperty)", async () => {
    for (const op of ["toString", "constructor", "__proto__", "hasOwnProperty"]) {
      const failure = failureOf(await runExit(rawCall(op)))
      expect(failure).toMatchObject({ _tag: "InvalidInput", field: "op" })
    }
  })

  it("answers every declared operation of a room (no declared name is missing from the dispatcher)", async () => {
    const room = service().room(uniqueId("declared"))
    await runTest(room.publish({ type: "note" }))
    for (const name of Object.keys(RoomOps)) {
      const exit = await runExit(rawCall(name))
      // Some need a payload; none may be unknown to the dispatcher.
      if (Exit.isFailure(exit)) expect(failureOf(exit)).not.toMatchObject({ field: "op" })
    }
  })
})
