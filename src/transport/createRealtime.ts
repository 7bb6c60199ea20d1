/**
 * `createRealtime(...)`: the transport API of seed 004 — Server-Sent Events and WebSockets with
 * `broadcast`, `sendTo(user | socket)` and channels — backed by one hub Durable Object per
 * instance (`RealtimeTransportHub`): hibernating sockets, heartbeats, `maxConnections`.
 *
 * Call it at module scope: the hub runs in its own isolate and finds the instance (handlers,
 * channels, limits) by name there, also when it wakes from hibernation.
 *
 * @example
 * ```ts
 * import { createRealtime } from "durable-realtime/transport"
 * export { RealtimeTransportHub } from "durable-realtime/durable"
 *
 * const realtime = createRealtime({ driver: "sse", identify: (request) => sessionUser(request) }) // { type: "user", id, name? } | null
 * export async function GET(request: Request) {
 *   const { response, stream } = realtime.sse(request)
 *   stream.send({ event: "notification", data: { message: "You have a new message" } })
 *   return response
 * }
 * ```
 *
 * @since 0.1.0
 */
import { waitUntil } from "cloudflare:workers"
import { Effect, Schema } from "effect"
import { registerInstance, type Identify } from "../Config.js"
import { CurrentRequest, currentCaller } from "../services/Identity.js"
import { AddressHeaders } from "../internal/ActorAddress.js"
import { workersEnv } from "../internal/workersEnv.js"
import { runToPromise } from "../internal/PromiseFacade.js"
import { objectName, type ActorNamespace } from "../internal/rpc.js"
import { InvalidInput, invalidInputFromParseError, LimitExceeded, StorageFailure, Unauthorized, toResponse, type RealtimeError } from "../RealtimeError.js"
import { localHub } from "./Ambient.js"
import { declare, instanceKey, type ChannelHandlers, type Declared, type SocketHandlers } from "./Declarations.js"
import { prepareEvent } from "./Frames.js"
import { CONNECTION_HEADER } from "./Hub.js"
import { callHub, HUB_ID, HUB_KIND, HubOps } from "./Ops.js"
import { ChannelName, TransportIdentity, UserId, type Delivered, type ForwardedConnection, type HubStats, type TransportEvent } from "./Schema.js"

export interface TransportOptions extends SocketHandlers {
  /** Instance name; instances share nothing. Default: the driver (`"sse"` / `"websocket"`). */
  readonly name?: string
  /** `"sse"` serves `sse(request)`, `"websocket"` serves `upgrade(request)`. Default `"sse"`. */
  readonly driver?: "sse" | "websocket"
  /** Heartbeat interval in ms: an SSE comment line, a `heartbeat` event on sockets. Default 30,000. */
  readonly heartbeat?: number
  /** Open connections (streams + sockets) of the instance; the next one gets 503. Default 10,000. */
  readonly maxConnections?: number
  /**
   * Who a request is — the same option as `realtime({ identify })`: `(request, env)` answers an
   * actor `{ type: "user", id, name? }` (sync, Promise or Effect), or null to refuse it (401).
   * Without it every connection is refused. A throw or a non-actor is a `ConfigurationError` (500).
   */
  readonly identify?: Identify
  /** Largest event (`{ event, data }` as JSON), in bytes. Default 64 KiB. */
  readonly maxPayloadBytes?: number
  /** Bytes an SSE reader may fall behind before its stream is dropped. Default 1 MiB. */
  readonly maxBufferedBytes?: number
  /** Largest message a socket client may send, in bytes. Default 64 KiB. */
  readonly maxFrameBytes?: number
  /** Per-socket budget for client messages (frames and bytes). Default 50/s, burst 100; 256 KiB/s, burst 1 MiB. Each user's sockets together also share the instance's `actorRateLimit` defaults. */
  readonly rateLimit?: { readonly perSecond?: number; readonly burst?: number; readonly bytesPerSecond?: number; readonly bytesBurst?: number }
  /** The hub's Durable Object binding. Default `REALTIME_TRANSPORT`. */
  readonly binding?: string
  /** The Worker's env, when not read from `cloudflare:workers`. */
  readonly env?: Record<string, unknown>
}

/** Anything that names one connection: a socket inside a handler, or an SSE `stream`. */
export interface ConnectionTarget {
  readonly id: string
}

/** One SSE connection, as `sse(request)` returns it. */
export interface TransportStream extends ConnectionTarget {
  /** Send one event to this connection (queued until the stream is open). */
  readonly send: (event: TransportEvent) => Promise<Delivered>
  /** End this stream. */
  readonly close: () => Promise<void>
}

export interface TransportEffects {
  readonly broadcast: (event: TransportEvent) => Effect.Effect<Delivered, RealtimeError>
  readonly sendTo: (target: string | ConnectionTarget, event: TransportEvent) => Effect.Effect<Delivered, RealtimeError>
  readonly toChannel: (name: string) => { readonly broadcast: (event: TransportEvent) => Effect.Effect<Delivered, RealtimeError> }
  readonly close: (target: ConnectionTarget) => Effect.Effect<Delivered, RealtimeError>
  readonly stats: () => Effect.Effect<HubStats, RealtimeError>
  /** `upgrade(request)` for Effect handlers: refusals (400/401/503) are Responses; a wrong driver fails. */
  readonly upgrade: (request: Request) => Effect.Effect<Response, RealtimeError>
  /** `sse(request)` for Effect handlers: the Response once decided, and the stream's operations as Effects. */
  readonly sse: (request: Request) => Effect.Effect<{ readonly response: Response; readonly stream: TransportStreamEffects }, RealtimeError>
}

/** An SSE stream's operations as Effects. */
export interface TransportStreamEffects extends ConnectionTarget {
  readonly send: (event: TransportEvent) => Effect.Effect<Delivered, RealtimeError>
  readonly close: Effect.Effect<Delivered, RealtimeError>
}

export interface TransportRealtime {
  readonly name: string
  readonly driver: "sse" | "websocket"
  /** Open an SSE stream: return `response` (a Promise of the Response: 401/503 when refused). */
  readonly sse: (request: Request) => { readonly response: Promise<Response>; readonly stream: TransportStream }
  /** Accept a WebSocket; messages go to the `onMessage` / `onClose` given to `createRealtime`. */
  readonly upgrade: (request: Request, handlers?: SocketHandlers) => Promise<Response>
  /** Every connection of the instance. */
  readonly broadcast: (event: TransportEvent) => Promise<Delivered>
  /** Every connection of a user id, or one connection (a socket or a stream). */
  readonly sendTo: (target: string | ConnectionTarget, event: TransportEvent) => Promise<Delivered>
  /** Declare a channel at module scope; sockets join with `{"type":"subscribe","channel":"<name>"}`. */
  readonly channel: (name: string, handlers?: ChannelHandlers) => { readonly name: string; readonly broadcast: (event: TransportEvent) => Promise<Delivered> }
  readonly toChannel: (name: string) => { readonly broadcast: (event: TransportEvent) => Promise<Delivered> }
  readonly stats: () => Promise<HubStats>
  /** The same operations as Effects with typed failures. */
  readonly effect: TransportEffects
}

const DEFAULT_BINDING = "REALTIME_TRANSPORT"

/** Keep a send alive after the handler returned its (streaming) response. */
const keepAlive = <A>(promise: Promise<A>): Promise<A> => {
  try {
    waitUntil(promise.catch(() => undefined))
  } catch {
    // outside a request (module scope, tests): nothing to extend
  }
  return promise
}

export const createRealtime = (options: TransportOptions = {}): TransportRealtime => {
  const driver = options.driver ?? "sse"
  const name = options.name ?? driver
  const key = instanceKey(name)
  const config = registerInstance({
    name: key,
    ...(options.heartbeat === undefined ? {} : { heartbeat: options.heartbeat }),
    ...(options.maxConnections === undefined ? {} : { maxConnections: options.maxConnections }),
    ...(options.maxPayloadBytes === undefined ? {} : { maxPayloadBytes: options.maxPayloadBytes }),
    ...(options.maxFrameBytes === undefined ? {} : { maxFrameBytes: options.maxFrameBytes }),
    ...(options.rateLimit === undefined ? {} : { rateLimit: options.rateLimit }),
    ...(options.maxBufferedBytes === undefined ? {} : { sseBufferBytes: options.maxBufferedBytes }),
    ...(options.identify === undefined ? {} : { identify: options.identify }),
  })
  const declared: Declared = declare({
    name,
    key,
    driver,
    handlers: { ...(options.onMessage === undefined ? {} : { onMessage: options.onMessage }), ...(options.onClose === undefined ? {} : { onClose: options.onClose }) },
    channels: new Map(),
    binding: options.binding ?? DEFAULT_BINDING,
    config,
    sealed: false,
  })

  const namespace = Effect.suspend(() => {
    const bound = (options.env ?? workersEnv())[declared.binding] as ActorNamespace | undefined
    return bound === undefined
      ? Effect.fail(new StorageFailure({ message: `no Durable Object binding "${declared.binding}" for RealtimeTransportHub in the Worker's env` }))
      : Effect.succeed(bound)
  })

  const prepare = (event: TransportEvent) => prepareEvent(event, config.maxPayloadBytes)

  /** Run `local` when called from a handler inside this instance's hub, else call the hub. */
  const route = (event: TransportEvent, local: (frame: string) => number | undefined, remote: (event: TransportEvent, ns: ActorNamespace) => Effect.Effect<Delivered, RealtimeError>) =>
    Effect.gen(function* () {
      declared.sealed = true
      const prepared = yield* prepare(event)
      if (localHub(key) !== undefined) {
        const delivered = local(prepared.frame)
        if (delivered !== undefined) return { delivered }
      }
      return yield* remote(prepared.event, yield* namespace)
    })

  const streamSenders = new WeakMap<object, (event: TransportEvent) => Promise<Delivered>>()

  const effect: TransportEffects = {
    broadcast: (event) => route(event, (frame) => localHub(key)?.broadcast(frame), (ev, ns) => callHub(ns, key, HubOps.broadcast, { event: ev })),
    sendTo: (target, event) => {
      if (typeof target === "string") {
        return Effect.flatMap(Effect.mapError(Schema.decodeUnknown(UserId)(target), (error) => invalidInputFromParseError(error, "userId")), (userId) =>
          route(event, (frame) => localHub(key)?.sendToUser(userId, frame), (ev, ns) => callHub(ns, key, HubOps.sendToUser, { userId, event: ev })),
        )
      }
      if (target === null || typeof target !== "object" || typeof target.id !== "string" || target.id === "") {
        return Effect.fail(new InvalidInput({ field: "target", message: "target: sendTo needs a user id or a connection (a socket or a stream)" }))
      }
      const streamSend = streamSenders.get(target)
      // An SSE stream of this Worker: its own queue keeps the order and waits for the stream to open.
      if (streamSend !== undefined) return Effect.tryPromise({ try: () => streamSend(event), catch: (error) => error as RealtimeError })
      return route(event, (frame) => localHub(key)?.sendToConnection(target.id, frame), (ev, ns) => callHub(ns, key, HubOps.sendToConnection, { connectionId: target.id, event: ev }))
    },
    toChannel: (channelName) => ({
      broadcast: (event) =>
        Effect.flatMap(Effect.mapError(Schema.decodeUnknown(ChannelName)(channelName), () => new InvalidInput({ field: "channel", message: "channel: must be a non-empty name without control characters" })), (channel) =>
          route(event, (frame) => localHub(key)?.channelBroadcast(channel, frame), (ev, ns) => callHub(ns, key, HubOps.channelBroadcast, { channel, event: ev })),
        ),
    }),
    close: (target) =>
      Effect.suspend(() => {
        const local = localHub(key)
        return local !== undefined ? Effect.succeed({ delivered: local.closeConnection(target.id) }) : Effect.flatMap(namespace, (ns) => callHub(ns, key, HubOps.closeConnection, { connectionId: target.id }))
      }),
    upgrade: (request) => upgradeEffect(request, undefined),
    sse: (request) =>
      Effect.flatMap(
        Effect.try({ try: () => sse(request), catch: (error) => error as RealtimeError }),
        ({ response, stream }) =>
          Effect.map(Effect.promise(() => response), (decided) => ({
            response: decided,
            stream: { id: stream.id, send: (event: TransportEvent) => effect.sendTo(stream, event), close: effect.close(stream) },
          })),
      ),
    stats: () =>
      Effect.suspend(() => {
        const local = localHub(key)
        return local !== undefined ? Effect.succeed(local.stats()) : Effect.flatMap(namespace, (ns) => callHub(ns, key, HubOps.stats, {}))
      }),
  }

  /**
   * The identity of a request, from the same `identify(request, env)` machinery as `realtime()`
   * instances: none (no option, or it answered null/undefined) is `Unauthorized`; a typed failure
   * of the app's identify refuses with that error; a throw or a non-actor is a `ConfigurationError`.
   */
  const identityOf = (request: Request): Effect.Effect<TransportIdentity, RealtimeError> =>
    Effect.gen(function* () {
      if (config.identify === undefined) {
        return yield* new Unauthorized({ reason: "missing", message: `transport "${name}" has no identify(request) option: connections are refused until the application says who they are` })
      }
      const actor = yield* Effect.provideService(currentCaller(config, options.env ?? workersEnv()), CurrentRequest, request)
      if (actor === undefined) return yield* new Unauthorized({ reason: "missing", message: "identify(request) recognised no one: log in first" })
      return { id: actor.id, ...(actor.name === undefined ? {} : { name: actor.name }) }
    })

  const connect = (connection: ForwardedConnection, init: { readonly body?: string; readonly upgrade?: boolean }) =>
    Effect.flatMap(namespace, (ns) =>
      Effect.tryPromise({
        try: () => {
          const stub = ns.get(ns.idFromName(objectName(key, HUB_KIND, HUB_ID))) as { fetch(input: string, init: RequestInit): Promise<Response> }
          const headers: Record<string, string> = { [AddressHeaders.instance]: key, [AddressHeaders.id]: HUB_ID, [CONNECTION_HEADER]: JSON.stringify(connection) }
          if (init.upgrade === true) headers.Upgrade = "websocket"
          return stub.fetch("https://transport-hub.internal/connect", init.body === undefined ? { headers } : { method: "POST", headers, body: init.body })
        },
        catch: (cause) => new StorageFailure({ message: `could not reach the transport hub: ${cause instanceof Error ? cause.message : String(cause)}` }),
      }),
    )

  const sse: TransportRealtime["sse"] = (request) => {
    if (driver !== "sse") throw new InvalidInput({ field: "driver", message: `driver: transport "${name}" uses the "${driver}" driver; sse(request) needs driver: "sse"` })
    declared.sealed = true
    const connectionId = crypto.randomUUID()
    // Events sent before the stream reaches the hub ride along with the request that opens it.
    const queued: Array<TransportEvent> = []
    let queuedBytes = 0
    let dispatched = false
    let resolveOpened: (open: boolean) => void = () => undefined
    const opened = new Promise<boolean>((resolve) => (resolveOpened = resolve))
    const response = runToPromise(
      Effect.gen(function* () {
        const identity = yield* identityOf(request)
        dispatched = true
        const answer = yield* connect({ connectionId, identity, transport: "sse" }, { body: JSON.stringify(queued.splice(0)) })
        resolveOpened(answer.status === 200)
        return answer
      }).pipe(
        Effect.catchAll((error) => Effect.sync(() => (resolveOpened(false), toResponse(error)))),
      ),
    )
    let chain: Promise<unknown> = Promise.resolve()
    const send = (event: TransportEvent): Promise<Delivered> => {
      const result = runToPromise(prepare(event)).then((prepared) => {
        if (!dispatched) {
          queuedBytes += prepared.frame.length
          if (queuedBytes > config.sseBufferBytes) {
            throw new LimitExceeded({ limit: "frame", message: `more than ${config.sseBufferBytes} bytes sent before the stream opened` })
          }
          queued.push(prepared.event)
          return opened.then((open) => ({ delivered: open ? 1 : 0 }))
        }
        // In order, and only once the hub knows the stream.
        const next = chain.then(() => opened).then((open) => (open ? runToPromise(effect.sendTo({ id: connectionId }, prepared.event)) : { delivered: 0 }))
        chain = next.catch(() => undefined)
        return next
      })
      return keepAlive(result)
    }
    const stream: TransportStream = {
      id: connectionId,
      send,
      close: () => keepAlive(opened.then((open) => (open ? runToPromise(effect.close({ id: connectionId })).then(() => undefined) : undefined))),
    }
    streamSenders.set(stream, send)
    return { response, stream }
  }

  const upgradeEffect = (request: Request, handlers: SocketHandlers | undefined): Effect.Effect<Response, RealtimeError> =>
      Effect.gen(function* () {
        if (driver !== "websocket") {
          return yield* new InvalidInput({ field: "driver", message: `driver: transport "${name}" uses the "${driver}" driver; upgrade(request) needs driver: "websocket"` })
        }
        if (handlers !== undefined && (handlers.onMessage !== declared.handlers.onMessage || handlers.onClose !== declared.handlers.onClose)) {
          return yield* new InvalidInput({
            field: "handlers",
            message:
              "handlers: pass onMessage/onClose to createRealtime({ ... }) at module scope, not to upgrade(): the socket lives in a Durable Object that may wake after hibernation in an isolate where this request never ran",
          })
        }
        declared.sealed = true
        return yield* Effect.gen(function* () {
          if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
            return yield* new InvalidInput({ field: "upgrade", message: "upgrade: expected a WebSocket upgrade request (Upgrade: websocket)" })
          }
          const identity = yield* identityOf(request)
          return yield* connect({ connectionId: crypto.randomUUID(), identity, transport: "websocket" }, { upgrade: true })
        }).pipe(Effect.catchAll((error) => Effect.succeed(toResponse(error))))
      })

  const upgrade: TransportRealtime["upgrade"] = (request, handlers) => runToPromise(upgradeEffect(request, handlers))

  const channel: TransportRealtime["channel"] = (channelName, handlers = {}) => {
    const decoded = Schema.decodeUnknownEither(ChannelName)(channelName)
    if (decoded._tag === "Left") throw new InvalidInput({ field: "channel", message: "channel: must be a non-empty name (at most 128 characters) without control characters" })
    if (declared.sealed) {
      throw new InvalidInput({ field: "channel", message: `channel: declare "${channelName}" at module scope, before the instance serves requests (its hub may run in another isolate)` })
    }
    if (declared.channels.has(channelName)) throw new InvalidInput({ field: "channel", message: `channel: "${channelName}" is already declared` })
    declared.channels.set(channelName, handlers)
    return { name: channelName, broadcast: (event) => runToPromise(effect.toChannel(channelName).broadcast(event)) }
  }

  return {
    name,
    driver,
    sse,
    upgrade,
    broadcast: (event) => runToPromise(effect.broadcast(event)),
    sendTo: (target, event) => runToPromise(effect.sendTo(target, event)),
    channel,
    toChannel: (channelName) => ({ broadcast: (event) => runToPromise(effect.toChannel(channelName).broadcast(event)) }),
    stats: () => runToPromise(effect.stats()),
    effect,
  }
}
