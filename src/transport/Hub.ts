/**
 * The transport hub: the actor behind one `createRealtime(...)` instance. It holds the instance's
 * hibernating WebSockets and its SSE streams (both in the shared `Connections` fan-out), runs the
 * socket handlers and channel hooks declared at module scope, and sends heartbeats.
 *
 * Layout: one hub per instance (a single Durable Object). See the README ("Transport API") for
 * what that allows and where it stops.
 *
 * @since 0.1.0
 */
import { Clock, Effect, Schema } from "effect"
import { CloseCode, InvalidInput, invalidInputFromParseError, LimitExceeded, toResponse, type RealtimeError } from "../RealtimeError.js"
import { ActorContext, ObjectState, type ActorBehavior } from "../actors/Actor.js"
import { readAttachment, writeAttachment, type SocketAttachment } from "../sockets/Attachment.js"
import { Connections } from "../sockets/Connections.js"
import { Jobs } from "../services/Jobs.js"
import { currentHub, type LocalHub } from "./Ambient.js"
import { declaredInstance, type TransportSocket } from "./Declarations.js"
import { checkedFrame, errorEventFrame, HEARTBEAT_FRAME, sseBytesOfFrame, subscriptionFrame } from "./Frames.js"
import { makeMemberships, MAX_CHANNELS_PER_CONNECTION, membershipMigration } from "./Memberships.js"
import * as Operations from "../internal/Operations.js"
import { HubOps } from "./Ops.js"
import { ChannelControl, ForwardedConnection, TransportEvent } from "./Schema.js"
import { makeSseStreams, SSE_HEADERS, sseComment } from "../sse/SseWriter.js"
import { makeSocketGuard } from "./SocketGuard.js"

export const hubMigrations = [membershipMigration]

const OPENED_COMMENT = sseComment("connected")

export const HEARTBEAT_JOB = "transport-heartbeat"
/** The header carrying the Worker's `ForwardedConnection` (the Worker builds this request itself). */
export const CONNECTION_HEADER = "x-durable-realtime-transport-connection"
export { HEARTBEAT_FRAME }

const errorFrame = errorEventFrame

const safeSend = (socket: WebSocket, frame: string | ArrayBuffer | ArrayBufferView) => {
  try {
    socket.send(frame)
    return true
  } catch {
    return false
  }
}

const safeClose = (socket: WebSocket, code: number, reason: string) => {
  try {
    socket.close(code, reason)
  } catch {
    // already closed
  }
}

export const makeTransportHub = Effect.gen(function* () {
  const { ctx } = yield* ObjectState
  const connections = yield* Connections
  const jobs = yield* Jobs
  const { address, config } = yield* ActorContext
  const declaration = () => declaredInstance(address.instance)

  const attachmentOf = readAttachment

  const memberships = yield* makeMemberships(new Set(ctx.getWebSockets().flatMap((socket) => attachmentOf(socket)?.connectionId ?? [])))
  // A reader more than `maxBufferedBytes` behind is dropped with a comment saying why; its
  // EventSource reconnects on its own.
  const streams = makeSseStreams({
    connections,
    maxBufferedBytes: () => config.sseBufferBytes,
    toBytes: sseBytesOfFrame,
    fellBehind: sseComment("closing: this reader fell too far behind (maxBufferedBytes); reconnect"),
  })
  const guard = makeSocketGuard(config)

  const socketById = (connectionId: string): WebSocket | undefined => connections.list().find((entry) => entry.id === connectionId)?.socket

  const sendToConnection = (connectionId: string, frame: string): number => {
    if (streams.get(connectionId) !== undefined) return streams.sendTo(connectionId, frame) ? 1 : 0
    const socket = socketById(connectionId)
    return socket !== undefined && safeSend(socket, frame) ? 1 : 0
  }

  const channelBroadcast = (channel: string, frame: string): number => {
    const members = memberships.members(channel)
    if (members.size === 0) return 0
    let sent = 0
    for (const entry of connections.list()) {
      if (entry.id !== undefined && members.has(entry.id) && safeSend(entry.socket, frame)) sent++
    }
    return sent
  }

  const closeConnection = (connectionId: string): number => {
    const stream = streams.get(connectionId)
    if (stream !== undefined) {
      stream.writer.end()
      return 1
    }
    const socket = socketById(connectionId)
    if (socket === undefined) return 0
    safeClose(socket, CloseCode.normal, "closed by the server")
    return 1
  }

  const stats = () => {
    const sockets = connections.list().filter((entry) => entry.socket.readyState <= 1).length
    return { connections: sockets + streams.count(), sockets, streams: streams.count(), channels: memberships.counts() }
  }

  const local: LocalHub = {
    key: address.instance,
    broadcast: (frame) => connections.broadcast(frame),
    sendToUser: (userId, frame) => connections.sendTo(userId, frame),
    sendToConnection,
    channelBroadcast,
    closeConnection,
    stats,
  }

  const handleOf = (socket: WebSocket, attachment: SocketAttachment): TransportSocket => ({
    id: attachment.connectionId,
    userId: attachment.actorId ?? "",
    user: { id: attachment.actorId ?? "", ...(attachment.actor?.name === undefined ? {} : { name: attachment.actor.name }) },
    send: (message) => {
      socket.send(message)
    },
    close: (code = CloseCode.normal, reason = "") => safeClose(socket, code, reason),
  })

  /** Run an application handler inside this hub (so its realtime calls fan out locally); a failure is logged and reported to the socket. */
  const runHandler = (what: string, socket: WebSocket | undefined, body: () => unknown) =>
    Effect.tryPromise({ try: () => currentHub.run(local, async () => body()), catch: (cause) => cause }).pipe(
      Effect.as(true),
      Effect.catchAll((cause) =>
        Effect.zipRight(
          Effect.logError(`durable-realtime transport: ${what} failed`, cause),
          Effect.sync(() => {
            if (socket !== undefined) safeSend(socket, errorFrame({ _tag: "HandlerFailed", message: `${what} failed` }))
            return false
          }),
        ),
      ),
    )

  const ensureHeartbeat = Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.either(jobs.ensure(HEARTBEAT_JOB, now + config.heartbeatMs)))

  const notDeclared = () =>
    new Response(`durable-realtime: transport instance "${address.instance}" is not declared in this isolate (call createRealtime at module scope in the Worker that exports the hub class)`, { status: 500 })

  const fetch = (request: Request): Effect.Effect<Response> =>
    Effect.gen(function* () {
      const declared = declaration()
      if (declared === undefined) return notDeclared()
      let raw: unknown
      try {
        raw = JSON.parse(request.headers.get(CONNECTION_HEADER) ?? "null")
      } catch {
        raw = null
      }
      const decoded = Schema.decodeUnknownEither(ForwardedConnection)(raw)
      if (decoded._tag === "Left") return toResponse(new InvalidInput({ field: "connection", message: "connection: the request was not forwarded by createRealtime" }))
      const connection = decoded.right
      if (connections.count() >= config.maxConnections) {
        return toResponse(new LimitExceeded({ limit: "connections", message: `this transport instance has reached maxConnections (${config.maxConnections})` }))
      }
      if (connection.transport === "sse") {
        const initial = yield* Effect.either(readInitial(request))
        if (initial._tag === "Left") return toResponse(initial.left)
        return yield* openStream(connection, initial.right)
      }
      if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
        return toResponse(new InvalidInput({ field: "upgrade", message: "upgrade: expected a WebSocket upgrade request" }))
      }
      const pair = new WebSocketPair()
      const [client, server] = [pair[0], pair[1]]
      const attachment: SocketAttachment = {
        connectionId: connection.connectionId,
        actorId: connection.identity.id,
        actor: { type: "user", id: connection.identity.id, ...(connection.identity.name === undefined ? {} : { name: connection.identity.name }) },
      }
      ctx.acceptWebSocket(server, [`user:${connection.identity.id}`.slice(0, 256)])
      writeAttachment(server, attachment)
      connections.added(server, attachment)
      yield* ensureHeartbeat
      return new Response(null, { status: 101, webSocket: client })
    }).pipe(Effect.catchAllCause((cause) => Effect.as(Effect.logError("durable-realtime transport: fetch failed", cause), new Response("durable-realtime: internal error", { status: 500 }))))

  /** Events `stream.send(...)` queued before the stream reached the hub, sent as the request body. */
  const readInitial = (request: Request) =>
    Effect.gen(function* () {
      const text = yield* Effect.promise(() => request.text())
      if (text === "") return [] as ReadonlyArray<TransportEvent>
      const json = yield* Effect.try({ try: () => JSON.parse(text) as unknown, catch: () => new InvalidInput({ field: "initial", message: "initial: not JSON" }) })
      return yield* Effect.mapError(Schema.decodeUnknown(Schema.Array(TransportEvent))(json), (error) => invalidInputFromParseError(error, "initial"))
    })

  const openStream = (connection: ForwardedConnection, initial: ReadonlyArray<TransportEvent>) =>
    Effect.gen(function* () {
      const { stream, send, join } = streams.open(connection.connectionId, undefined)
      stream.writer.write(OPENED_COMMENT)
      join(connection.identity.id)
      for (const event of initial) {
        const frame = yield* Effect.either(checkedFrame(event, config.maxPayloadBytes))
        if (frame._tag === "Right") send(frame.right)
      }
      yield* ensureHeartbeat
      return new Response(stream.writer.body, { headers: SSE_HEADERS })
    })

  const subscribe = (socket: WebSocket, attachment: SocketAttachment, control: ChannelControl) =>
    Effect.gen(function* () {
      const channel = control.channel
      const handlers = declaration()?.channels.get(channel)
      const handle = handleOf(socket, attachment)
      const userId = attachment.actorId ?? ""
      if (control.type === "unsubscribe") {
        if (!memberships.has(channel, attachment.connectionId)) return
        yield* memberships.remove(channel, attachment.connectionId)
        if (handlers?.onLeave !== undefined) yield* runHandler(`channel "${channel}" onLeave`, socket, () => handlers.onLeave?.(handle, userId))
        safeSend(socket, subscriptionFrame("unsubscribed", channel))
        return
      }
      if (handlers === undefined) {
        return yield* new InvalidInput({ field: "channel", message: `channel: "${channel}" is not declared (realtime.channel("${channel}", ...) at module scope)` })
      }
      if (!memberships.has(channel, attachment.connectionId)) {
        if (memberships.channelsOf(attachment.connectionId).length >= MAX_CHANNELS_PER_CONNECTION) {
          return yield* new InvalidInput({ field: "channel", message: `channel: a socket may be in at most ${MAX_CHANNELS_PER_CONNECTION} channels; unsubscribe from one first` })
        }
        yield* memberships.add(channel, attachment.connectionId, userId)
        if (handlers.onJoin !== undefined) {
          const joined = yield* runHandler(`channel "${channel}" onJoin`, socket, () => handlers.onJoin?.(handle, userId))
          // A throwing onJoin refuses the subscription.
          if (!joined) return yield* memberships.remove(channel, attachment.connectionId)
        }
      }
      safeSend(socket, subscriptionFrame("subscribed", channel))
    })

  /** A text message that is a channel subscription, or undefined for an application message. */
  const controlOf = (message: string): ParsedControl | undefined => {
    if (!message.startsWith("{") || !message.includes("subscribe")) return undefined
    let json: unknown
    try {
      json = JSON.parse(message)
    } catch {
      return undefined
    }
    const type = (json as { type?: unknown } | null)?.type
    if (type !== "subscribe" && type !== "unsubscribe") return undefined
    const decoded = Schema.decodeUnknownEither(ChannelControl)(json)
    return decoded._tag === "Right" ? { ok: decoded.right } : { error: invalidInputFromParseError(decoded.left, "message") }
  }

  const webSocketMessage = (socket: WebSocket, message: string | ArrayBuffer): Effect.Effect<void> =>
    Effect.gen(function* () {
      const attachment = attachmentOf(socket)
      if (attachment === null) return
      const declared = declaration()
      if (declared === undefined) {
        yield* Effect.logError(`durable-realtime transport: "${address.instance}" is not declared in this isolate; closing the socket`)
        return safeClose(socket, 1011, "transport instance not declared")
      }
      const now = yield* Clock.currentTimeMillis
      const verdict = guard.check(attachment.connectionId, attachment.actorId ?? attachment.connectionId, message, now)
      if (verdict._tag !== "Ok") {
        safeSend(socket, errorFrame(verdict.error))
        if (verdict.close !== undefined) safeClose(socket, verdict.close.code, verdict.close.reason)
        return
      }
      if (typeof message !== "string") {
        safeSend(socket, errorFrame(new InvalidInput({ field: "message", message: "message: only text messages are accepted" })))
        return safeClose(socket, CloseCode.unsupported, "text messages only")
      }
      const control = controlOf(message)
      if (control !== undefined) {
        const outcome = "ok" in control ? yield* Effect.either(subscribe(socket, attachment, control.ok)) : ({ _tag: "Left", left: control.error } as const)
        if (outcome._tag === "Left") safeSend(socket, errorFrame(outcome.left as RealtimeError))
        return
      }
      const onMessage = declared.handlers.onMessage
      if (onMessage === undefined) {
        safeSend(socket, errorFrame(new InvalidInput({ field: "message", message: "message: this instance declares no onMessage handler" })))
        return
      }
      yield* runHandler("onMessage", socket, () => onMessage(handleOf(socket, attachment), message))
    }).pipe(Effect.catchAllCause((cause) => Effect.logError("durable-realtime transport: webSocketMessage failed", cause)))

  const webSocketClose = (socket: WebSocket, code: number, reason: string): Effect.Effect<void> =>
    Effect.gen(function* () {
      const attachment = attachmentOf(socket)
      connections.invalidate()
      // Complete the close handshake (a no-op when the runtime already replied).
      safeClose(socket, code >= 1000 && code < 5000 && code !== 1005 && code !== 1006 ? code : CloseCode.normal, reason)
      if (attachment === null) return
      guard.forget(attachment.connectionId)
      const declared = declaration()
      const handle = handleOf(socket, attachment)
      const userId = attachment.actorId ?? ""
      const channels = memberships.channelsOf(attachment.connectionId)
      yield* Effect.either(memberships.removeConnection(attachment.connectionId))
      for (const channel of channels) {
        const onLeave = declared?.channels.get(channel)?.onLeave
        if (onLeave !== undefined) yield* runHandler(`channel "${channel}" onLeave`, undefined, () => onLeave(handle, userId))
      }
      const onClose = declared?.handlers.onClose
      if (onClose !== undefined) yield* runHandler("onClose", undefined, () => onClose(handle))
    }).pipe(Effect.catchAllCause((cause) => Effect.logError("durable-realtime transport: webSocketClose failed", cause)))

  /** Heartbeats while anything is connected: a comment line on streams, a `heartbeat` event on sockets. */
  const heartbeatJob = Effect.gen(function* () {
    if (connections.count() === 0) return null
    streams.heartbeat()
    for (const entry of connections.list()) safeSend(entry.socket, HEARTBEAT_FRAME)
    const now = yield* Clock.currentTimeMillis
    return now + config.heartbeatMs
  })

  const withFrame = <A>(event: Parameters<typeof checkedFrame>[0], send: (frame: string) => A) =>
    Effect.map(checkedFrame(event, config.maxPayloadBytes), send)

  const operations = Operations.implement(HubOps, {
    broadcast: ({ event }) => withFrame(event, (frame) => ({ delivered: local.broadcast(frame) })),
    sendToUser: ({ userId, event }) => withFrame(event, (frame) => ({ delivered: local.sendToUser(userId, frame) })),
    sendToConnection: ({ connectionId, event }) => withFrame(event, (frame) => ({ delivered: sendToConnection(connectionId, frame) })),
    channelBroadcast: ({ channel, event }) => withFrame(event, (frame) => ({ delivered: channelBroadcast(channel, frame) })),
    closeConnection: ({ connectionId }) => Effect.sync(() => ({ delivered: closeConnection(connectionId) })),
    stats: () => Effect.sync(stats),
  })

  return {
    operations,
    jobs: { [HEARTBEAT_JOB]: heartbeatJob },
    fetch,
    webSocketMessage,
    webSocketClose,
    webSocketError: (socket) => webSocketClose(socket, CloseCode.goingAway, "error"),
  } satisfies ActorBehavior
})

/** A channel message that decoded, or why it did not. */
type ParsedControl = { readonly ok: ChannelControl } | { readonly error: InvalidInput }
