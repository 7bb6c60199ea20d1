/**
 * The Durable Objects run in their own worker script (`durable-realtime-objects`, see
 * vitest.config.ts); this test and its Worker only hold `script_name` bindings to them. Every
 * option and hook must therefore come from the declarations that script made when it imported the
 * application, for the Promise facade, for an Effect-only app and for a database; and an instance
 * or database that script never declared fails loudly instead of running with defaults.
 */
import { env, SELF } from "cloudflare:test"
import { Cause, Effect, Exit } from "effect"
import { describe, expect, it } from "vitest"
import { Realtime } from "../../src/Realtime.js"
import { InstanceNotDeclared, PayloadTooLarge } from "../../src/RealtimeError.js"
import type { LiveGrant } from "../../src/schema/LiveGrant.js"
import { boards, closedLog, EffectAppLive, promiseApp } from "./app.js"
import { callerOnly, callerOnlyDb } from "./caller.js"

type Frame = { readonly type: string; readonly [key: string]: any }
let counter = 0
const uniqueId = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${(counter++).toString(36)}`
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const eventually = async <A>(check: () => A | undefined | Promise<A | undefined>, what: string, timeoutMs = 4000): Promise<A> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(10)
  }
}

const openSocket = async (url: string, protocols: ReadonlyArray<string>) => {
  const response = await SELF.fetch(`http://example.com${url}`, { headers: { Upgrade: "websocket", "Sec-WebSocket-Protocol": protocols.join(", ") } })
  const socket = response.webSocket
  if (socket === null) throw new Error(`socket refused: ${response.status} ${await response.text()}`)
  const frames: Array<Frame> = []
  const closed = new Promise<number>((resolve) => {
    socket.addEventListener("close", (event) => {
      resolve(event.code)
    })
  })
  socket.addEventListener("message", (event) => {
    frames.push(JSON.parse(event.data as string))
  })
  socket.accept()
  return {
    frames,
    closed,
    send: (frame: unknown) => socket.send(JSON.stringify(frame)),
    waitFor: (predicate: (frame: Frame) => boolean, what: string) => eventually(() => frames.find(predicate), what),
    close: () => socket.close(1000, "done"),
  }
}

/** What the `onClose` hooks recorded in the objects' isolate. */
const closedInObjects = async (): Promise<Record<string, Array<string>>> =>
  (await (env as unknown as { OBJECTS: Fetcher }).OBJECTS.fetch("http://objects/closed")).json()

/** Hooks, history limit, payload limit and rate limit of one instance, through the objects' script. */
const provesOptionsAndHooks = async (
  instance: string,
  limits: { history: number; payload: number; burst: number },
  handle: {
    publish: (roomId: string, data: unknown) => Promise<unknown>
    history: (roomId: string) => Promise<{ messages: ReadonlyArray<{ data: unknown }> }>
    authorize: (roomId: string) => Promise<LiveGrant>
  },
) => {
  const roomId = uniqueId(instance)
  // historyLimit: only the last `history` messages stay (the default would keep 1,000).
  for (let n = 1; n <= limits.history + 3; n++) await handle.publish(roomId, n)
  const kept = (await handle.history(roomId)).messages.map((message) => message.data)
  expect(kept).toEqual(Array.from({ length: limits.history }, (_, i) => limits.history + 3 - i))

  // maxPayloadBytes: a payload the default 64 KiB would take is refused with this instance's limit.
  const refused = await handle.publish(roomId, "x".repeat(limits.payload + 10)).then(
    () => undefined,
    (error: unknown) => error,
  )
  expect(refused).toBeInstanceOf(PayloadTooLarge)
  expect(refused).toMatchObject({ limit: limits.payload })

  // Hooks run in the objects' isolate: onJoin welcomes, onMessage echoes.
  const grant = await handle.authorize(uniqueId(`${instance}-socket`))
  const socket = await openSocket(grant.url, grant.protocols)
  const ready = await socket.waitFor((frame) => frame.type === "ready", "ready")
  const welcome = await socket.waitFor((frame) => frame.type === "event" && frame.event.type === "welcome", "welcome")
  expect(welcome.event.data).toEqual({ instance, actor: "ada" })
  socket.send({ type: "send", id: "s1", event: { type: "ping-hook", data: { n: 1 } } })
  const echo = await socket.waitFor((frame) => frame.type === "event" && frame.event.type === "echo", "echo")
  expect(echo.event.data).toEqual({ instance, got: { n: 1 } })

  // rateLimit: past the burst (the default burst is 100), frames are refused with LimitExceeded.
  for (let n = 0; n < limits.burst + 4; n++) socket.send({ type: "publish", message: { type: "spam", data: n } })
  await socket.waitFor((frame) => frame.type === "error" && frame.tag === "LimitExceeded", "a rate-limit error")

  // onClose runs there too, and only there.
  socket.close()
  await eventually(async () => ((await closedInObjects())[instance] ?? []).includes(ready.connectionId) || undefined, "onClose in the objects' isolate")
  expect(closedLog[instance] ?? []).toEqual([])
}

describe("Durable Objects in a separate worker script", () => {
  it("the Promise facade's options and all three hooks take effect there", async () => {
    await provesOptionsAndHooks("xi-promise", { history: 3, payload: 200, burst: 3 }, {
      publish: (roomId, data) => promiseApp.room(roomId).publish({ type: "n", data }),
      history: (roomId) => promiseApp.room(roomId).history(),
      authorize: (roomId) => promiseApp.room(roomId).authorize({ actor: { type: "user", id: "ada" } }),
    })
  })

  it("an Effect-only app's options and all three hooks take effect there", async () => {
    const run = <A, E>(effect: Effect.Effect<A, E, Realtime>): Promise<A> =>
      Effect.runPromiseExit(Effect.provide(effect, EffectAppLive)).then((exit) => {
        if (Exit.isSuccess(exit)) return exit.value
        throw Cause.squash(exit.cause)
      })
    await provesOptionsAndHooks("xi-effect", { history: 2, payload: 150, burst: 2 }, {
      publish: (roomId, data) => run(Realtime.room(roomId).publish({ type: "n", data })),
      history: (roomId) => run(Realtime.room(roomId).history()),
      authorize: (roomId) => run(Realtime.room(roomId).authorize({ actor: { type: "user", id: "ada" } })),
    })
  })

  it("the db declaration (schema, realtime table, shards) reaches the shard and hub objects", async () => {
    const board = uniqueId("board")
    const socket = await openSocket(`/realtime-db?${new URLSearchParams({ namespace: "default", database: "xidb", table: "notes", filters: JSON.stringify({ board }) })}`, ["durable-realtime.realtime.v1"])
    await socket.waitFor((frame) => frame.type === "ready", "db ready")
    await boards.table("notes").insert({ id: 1, board, body: "hello" })
    const change = await socket.waitFor((frame) => frame.type === "database.change", "a change")
    expect(change).toMatchObject({ database: "xidb", table: "notes", event: "insert", new: { id: 1, board, body: "hello" } })
    // shards: 3 is known there: a shard object refuses to boot past its declaration's count
    // (the default is 1), and all three answer.
    for (const shard of [0, 1, 2]) await boards.outbox(shard)
    socket.close()
  })

  it("an instance or database the objects' script never declared fails loudly, never with defaults", async () => {
    const refused = await callerOnly.room(uniqueId("nobody")).publish({ type: "n" }).then(
      () => undefined,
      (error: unknown) => error,
    )
    expect(refused).toBeInstanceOf(InstanceNotDeclared)
    expect(refused).toMatchObject({ instance: "xi-caller-only", kind: "room" })
    // A socket for it passes the Worker (which declared it) and is refused by the object: no socket.
    const grant = await callerOnly.room(uniqueId("nobody-socket")).authorize({ actor: { type: "user", id: "ada" } })
    const upgrade = await SELF.fetch(`http://example.com${grant.url}`, { headers: { Upgrade: "websocket", "Sec-WebSocket-Protocol": grant.protocols.join(", ") } })
    expect(upgrade.webSocket).toBeNull()
    expect(upgrade.status).toBe(500)
    expect(await upgrade.json()).toMatchObject({ error: { _tag: "InstanceNotDeclared", instance: "xi-caller-only", kind: "room" } })
    const dbRefused = await callerOnlyDb.table("items").insert({ id: "a" }).then(
      () => undefined,
      (error: unknown) => error,
    )
    expect(dbRefused).toBeInstanceOf(InstanceNotDeclared)
    expect(dbRefused).toMatchObject({ instance: "default/xi-caller-only-db", kind: "dbShard" })
  })
})
