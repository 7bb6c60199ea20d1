/**
 * Helpers for live-connection tests: grants, real WebSockets through the test Worker, frame
 * collectors that wait for a frame instead of sleeping.
 */
import { env, SELF } from "cloudflare:test"
import { instanceConfig } from "../src/Config.js"
import { objectName } from "../src/internal/rpc.js"
import { makeRealtime } from "../src/Realtime.js"
import { Either, Schema } from "effect"
import { afterEach, expect } from "vitest"
import { ServerFrame } from "../src/schema/Protocol.js"
import { type LiveGrant } from "../src/schema/LiveGrant.js"
import { runTest } from "./helpers.js"
import "./worker.js"

/** The Realtime service of the `livetest` instance (small limits, hooks). */
export const liveService = () => makeRealtime(instanceConfig("livetest"), env as unknown as Record<string, unknown>)

/** Every frame a test socket receives must decode as the protocol's ServerFrame union (wire form: members may be slim). */
const isServerFrame = (frame: unknown): boolean => Either.isRight(Schema.decodeUnknownEither(ServerFrame)(frame))
const offProtocol: Array<unknown> = []
afterEach(() => {
  const found = offProtocol.splice(0)
  expect(found, "frames that do not match ServerFrame").toEqual([])
})

export type Frame = { readonly type: string; readonly [key: string]: any }

export interface TestSocket {
  readonly socket: WebSocket
  readonly frames: Array<Frame>
  readonly closed: Promise<{ code: number; reason: string }>
  readonly send: (frame: unknown) => void
  readonly waitFor: (predicate: (frame: Frame) => boolean, timeoutMs?: number) => Promise<Frame>
  readonly close: () => void
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Poll until `check` returns a value (not undefined), or fail after `timeoutMs`. */
export const eventually = async <A>(check: () => A | undefined | Promise<A | undefined>, timeoutMs = 3000, what = "condition"): Promise<A> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(10)
  }
}

/** Open a WebSocket with a grant (or raw protocols); resolves with the response when refused. */
export const openSocket = async (
  grant: LiveGrant | { url: string; protocols: ReadonlyArray<string> },
  query = "",
): Promise<{ response: Response; socket?: TestSocket }> => {
  const response = await SELF.fetch(`http://example.com${grant.url}${query}`, {
    headers: { Upgrade: "websocket", "Sec-WebSocket-Protocol": grant.protocols.join(", ") },
  })
  const socket = response.webSocket
  if (socket === null) return { response }
  const frames: Array<Frame> = []
  let resolveClosed: (value: { code: number; reason: string }) => void = () => undefined
  const closed = new Promise<{ code: number; reason: string }>((resolve) => (resolveClosed = resolve))
  socket.addEventListener("message", (event) => {
    const frame = JSON.parse(event.data as string)
    if (!isServerFrame(frame)) offProtocol.push(frame)
    frames.push(frame)
  })
  socket.addEventListener("close", (event) => resolveClosed({ code: event.code, reason: event.reason }))
  socket.accept()
  const waitFor = (predicate: (frame: Frame) => boolean, timeoutMs = 3000) =>
    eventually(() => frames.find(predicate), timeoutMs, "a frame")
  return {
    response,
    socket: {
      socket,
      frames,
      closed,
      send: (frame) => socket.send(typeof frame === "string" ? frame : JSON.stringify(frame)),
      waitFor,
      close: () => {
        try {
          socket.close(1000, "done")
        } catch {
          // closed
        }
      },
    },
  }
}

/** Open a socket that must be accepted, and wait for its `ready` frame. */
export const connect = async (grant: LiveGrant, query = ""): Promise<TestSocket> => {
  const { response, socket } = await openSocket(grant, query)
  if (socket === undefined) throw new Error(`socket refused: ${response.status} ${await response.text()}`)
  await socket.waitFor((frame) => frame.type === "ready")
  return socket
}

/** A grant for a room of the `livetest` instance. */
export const roomGrant = (roomId: string, actorId: string, permissions: ReadonlyArray<"read" | "publish" | "presence"> = ["read", "publish", "presence"], ttlSeconds = 60) =>
  runTest(liveService().room(roomId).authorize({ actor: { type: "user", id: actorId }, permissions, ttlSeconds }))

export const channelGrant = (channelId: string, actorId: string, permissions: ReadonlyArray<"read" | "publish" | "presence"> = ["read", "publish"], ttlSeconds = 60) =>
  runTest(liveService().channel(channelId).authorize({ actor: { type: "user", id: actorId }, permissions, ttlSeconds }))

/** The Durable Object stub of a room or channel of an instance (for eviction and alarms). */
export const stubFor = (instance: string, kind: "room" | "channel", id: string): DurableObjectStub => {
  const bindings = env as unknown as { REALTIME_ROOMS: DurableObjectNamespace; REALTIME_CHANNELS: DurableObjectNamespace }
  const namespace = kind === "room" ? bindings.REALTIME_ROOMS : bindings.REALTIME_CHANNELS
  return namespace.get(namespace.idFromName(objectName(instance, kind, id)))
}
