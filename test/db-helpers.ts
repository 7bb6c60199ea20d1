/**
 * Helpers for database tests: change-stream sockets through the test Worker, frame collectors
 * that wait instead of sleeping, and the test database's handles.
 */
import { env, runInDurableObject, SELF } from "cloudflare:test"
import { Schema } from "effect"
import { afterEach, expect } from "vitest"
import { shardId, shardOf } from "../src/db/Placement.js"
import { DbServerFrame } from "../src/db/Protocol.js"
import { objectName } from "../src/internal/rpc.js"
import { eventually } from "./live-helpers.js"
import { testDb } from "./db-schema.js"
import "./worker.js"

export { testDb }
export { eventually, sleep } from "./live-helpers.js"

/** Every frame a db socket receives is checked against the protocol's DbServerFrame union. */
const isFrame = Schema.is(DbServerFrame)
const offProtocol: Array<unknown> = []
afterEach(() => {
  expect(offProtocol.splice(0), "frames that do not match DbServerFrame").toEqual([])
})

export type Frame = { readonly type: string; readonly [key: string]: any }

/** When each frame arrived (for latency figures). */
export const receivedAt = new WeakMap<object, number>()

export interface DbSocket {
  readonly frames: Array<Frame>
  readonly changes: () => Array<Frame>
  readonly closed: Promise<{ code: number; reason: string }>
  readonly waitFor: (predicate: (frame: Frame) => boolean, timeoutMs?: number) => Promise<Frame>
  /** Wait until `n` change frames arrived. */
  readonly waitChanges: (n: number, timeoutMs?: number) => Promise<Array<Frame>>
  readonly send: (text: string) => void
  readonly close: () => void
  readonly response: Response
}

/** The URL of a public subscription. */
export const streamUrl = (table: string, filters?: Record<string, unknown>, extra: Record<string, string> = {}) => {
  const query = new URLSearchParams({ namespace: "default", database: "dbtest", table, ...(filters === undefined ? {} : { filters: JSON.stringify(filters) }), ...extra })
  return `/realtime-db?${query.toString()}`
}

/** Open a change-stream socket; `socket` is undefined when refused (then read `response`). */
export const openStream = async (url: string, protocols: ReadonlyArray<string> = ["durable-realtime.realtime.v1"]): Promise<{ response: Response; socket?: DbSocket }> => {
  // Grants carry absolute ws(s):// URLs when an origin is known, path-only ones otherwise.
  const target = /^wss?:\/\//.test(url) ? url.replace(/^ws/, "http") : `http://example.com${url}`
  const response = await SELF.fetch(target, { headers: { Upgrade: "websocket", "Sec-WebSocket-Protocol": protocols.join(", ") } })
  const ws = response.webSocket
  if (ws === null) return { response }
  const frames: Array<Frame> = []
  let resolveClosed: (value: { code: number; reason: string }) => void = () => undefined
  const closed = new Promise<{ code: number; reason: string }>((resolve) => (resolveClosed = resolve))
  ws.addEventListener("message", (event) => {
    const frame = JSON.parse(event.data as string)
    if (!isFrame(frame)) offProtocol.push(frame)
    receivedAt.set(frame, Date.now())
    frames.push(frame)
  })
  ws.addEventListener("close", (event) => resolveClosed({ code: event.code, reason: event.reason }))
  ws.accept()
  const changes = () => frames.filter((frame) => frame.type === "database.change")
  return {
    response,
    socket: {
      frames,
      changes,
      closed,
      response,
      waitFor: (predicate, timeoutMs = 4000) => eventually(() => frames.find(predicate), timeoutMs, "a frame"),
      waitChanges: (n, timeoutMs = 4000) => eventually(() => (changes().length >= n ? changes() : undefined), timeoutMs, `${n} changes`),
      send: (text) => ws.send(text),
      close: () => {
        try {
          ws.close(1000, "done")
        } catch {
          // closed
        }
      },
    },
  }
}

/** Open a socket that must be accepted, and wait for `ready`. */
export const subscribe = async (url: string, protocols?: ReadonlyArray<string>): Promise<DbSocket> => {
  const { response, socket } = await openStream(url, protocols)
  if (socket === undefined) throw new Error(`stream refused: ${response.status} ${await response.text()}`)
  await socket.waitFor((frame) => frame.type === "ready")
  return socket
}

/** A grant for the posts stream of one tenant. */
export const postsGrant = (filters: Record<string, unknown>, options: { events?: ReadonlyArray<"insert" | "update" | "delete">; ttlSeconds?: number; actor?: string } = {}) =>
  testDb.realtime.authorize({
    table: "posts",
    filters: filters as Record<string, string>,
    actor: { type: "user", id: options.actor ?? "reader" },
    ...(options.events === undefined ? {} : { events: options.events }),
    ...(options.ttlSeconds === undefined ? {} : { ttlSeconds: options.ttlSeconds }),
  })

let counter = 0
export const uid = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${(counter++).toString(36)}`

/** A post row with defaults for the test table. */
export const post = (tenantId: string, id: string, extra: Record<string, unknown> = {}) => ({
  id,
  tenantId,
  authorId: "a1",
  // Unique across tenants too, so tests may share slugs-by-id freely (slugs are unique per tenant).
  slug: `slug-${id}-${tenantId}`,
  title: `Title ${id}`,
  ...extra,
})

/** What the db tests call on a shard or hub object inside it. */
export interface ShardHost {
  invoke(raw: unknown): unknown
  runInMailbox(...args: Array<unknown>): Promise<unknown>
}

/** Count the host's mailbox entries while `body` runs inside the object. */
export const countingMailbox = <A>(stub: DurableObjectStub, body: (host: ShardHost, entered: () => number, state: DurableObjectState) => Promise<A>) =>
  runInDurableObject(stub, async (object, state) => {
    const host = object as unknown as ShardHost
    const original = host.runInMailbox
    let entered = 0
    host.runInMailbox = function (this: ShardHost, ...args: Array<unknown>) {
      entered++
      return original.apply(this, args)
    }
    try {
      return await body(host, () => entered, state)
    } finally {
      host.runInMailbox = original
    }
  })

const shards = (env as unknown as { REALTIME_DB_SHARDS: DurableObjectNamespace }).REALTIME_DB_SHARDS

/** A fresh tenant of the test database: a subscriber on its posts, and its shard's address and stub. */
export const tenantShard = async () => {
  const tenant = uid("t")
  const grant = await postsGrant({ tenantId: tenant })
  const socket = await subscribe(grant.url, grant.protocols)
  const instance = testDb.definition.instance
  const address = { instance, id: shardId(shardOf(tenant, testDb.definition.shards)) }
  return { tenant, socket, address, stub: shards.get(shards.idFromName(objectName(instance, "dbShard", address.id))) }
}
