/**
 * The transport hub: the actor behind one `createRealtime(...)` instance. It holds the instance's
 * hibernating WebSockets (accepted, guarded and closed by the socket layer, src/sockets/; its
 * protocol is `HubSockets.ts`) and its SSE streams (`sse/SseWriter.ts`), both in the shared
 * `Connections` fan-out, and sends heartbeats.
 *
 * Layout: one hub per instance (a single Durable Object). See the README ("Transport API") for
 * what that allows and where it stops.
 *
 * @since 0.1.0
 */
import { Clock, Effect, Schema } from "effect"
import { InvalidInput, invalidInputFromParseError, toResponse } from "../RealtimeError.js"
import { ActorContext, ObjectState, type ActorBehavior } from "../actors/Actor.js"
import { readAttachment } from "../sockets/Attachment.js"
import { Close, closeSocket, sendFrame } from "../sockets/CloseCodes.js"
import { Connections } from "../sockets/Connections.js"
import { DEFAULT_PROTOCOL, Sockets } from "../sockets/Sockets.js"
import { Jobs } from "../services/Jobs.js"
import type { LocalHub } from "./Ambient.js"
import { declaredInstance } from "./Declarations.js"
import { checkedFrame, HEARTBEAT_FRAME, sseBytesOfFrame } from "./Frames.js"
import { makeHubSockets } from "./HubSockets.js"
import { makeMemberships, membershipMigration } from "./Memberships.js"
import * as Operations from "../internal/Operations.js"
import { HubOps } from "./Ops.js"
import { ForwardedConnection, TransportEvent } from "./Schema.js"
import { makeSseStreams, SSE_HEADERS, sseComment } from "../sse/SseWriter.js"

export const hubMigrations = [membershipMigration]

const OPENED_COMMENT = sseComment("connected")

export const HEARTBEAT_JOB = "transport-heartbeat"
/** The header carrying the Worker's `ForwardedConnection` (the Worker builds this request itself). */
export const CONNECTION_HEADER = "x-durable-realtime-transport-connection"
export { HEARTBEAT_FRAME }

export const makeTransportHub = Effect.gen(function* () {
  const { ctx } = yield* ObjectState
  const connections = yield* Connections
  const sockets = yield* Sockets
  const jobs = yield* Jobs
  const { address, config } = yield* ActorContext
  const declaration = () => declaredInstance(address.instance)

  const memberships = yield* makeMemberships(new Set(ctx.getWebSockets().flatMap((socket) => readAttachment(socket)?.connectionId ?? [])))
  // A reader more than `maxBufferedBytes` behind is dropped with a comment saying why; its
  // EventSource reconnects on its own.
  const streams = makeSseStreams({
    connections,
    maxBufferedBytes: () => config.sseBufferBytes,
    toBytes: sseBytesOfFrame,
    fellBehind: sseComment("closing: this reader fell too far behind (maxBufferedBytes); reconnect"),
  })

  const socketById = (connectionId: string): WebSocket | undefined => connections.list().find((entry) => entry.id === connectionId)?.socket

  const sendToConnection = (connectionId: string, frame: string): number => {
    if (streams.get(connectionId) !== undefined) return streams.sendTo(connectionId, frame) ? 1 : 0
    const socket = socketById(connectionId)
    return socket !== undefined && sendFrame(socket, frame) ? 1 : 0
  }

  const channelBroadcast = (channel: string, frame: string): number => {
    const members = memberships.members(channel)
    if (members.size === 0) return 0
    let sent = 0
    for (const entry of connections.list()) {
      if (entry.id !== undefined && members.has(entry.id) && sendFrame(entry.socket, frame)) sent++
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
    closeSocket(socket, Close.normal, "closed by the server")
    return 1
  }

  const stats = () => {
    const open = connections.list().filter((entry) => entry.socket.readyState <= 1).length
    return { connections: open + streams.count(), sockets: open, streams: streams.count(), channels: memberships.counts() }
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

  sockets.register(makeHubSockets({ instance: address.instance, config, declaration, memberships, local }))

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
      const room = yield* Effect.either(sockets.roomFor("transport instance", config.maxConnections))
      if (room._tag === "Left") return toResponse(room.left)
      if (connection.transport === "sse") {
        const initial = yield* Effect.either(readInitial(request))
        if (initial._tag === "Left") return toResponse(initial.left)
        return yield* openStream(connection, initial.right)
      }
      if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
        return toResponse(new InvalidInput({ field: "upgrade", message: "upgrade: expected a WebSocket upgrade request" }))
      }
      const { id, name } = connection.identity
      const { response } = yield* sockets.accept({
        protocol: DEFAULT_PROTOCOL,
        // One rate budget per user, whatever its number of sockets.
        attachment: { connectionId: connection.connectionId, member: `user:${id}`, actorId: id, actor: { type: "user", id, ...(name === undefined ? {} : { name }) } },
        tags: [`user:${id}`.slice(0, 256)],
      })
      yield* ensureHeartbeat
      return response
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

  /** Heartbeats while anything is connected: a comment line on streams, a `heartbeat` event on sockets. */
  const heartbeatJob = Effect.gen(function* () {
    if (connections.count() === 0) return null
    streams.heartbeat()
    for (const entry of connections.list()) sendFrame(entry.socket, HEARTBEAT_FRAME)
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
    // Socket events go to the layer, which routes them to this object's protocol.
    ...sockets.events,
  } satisfies ActorBehavior
})
