/**
 * The socket layer of one Durable Object: every hibernatable socket of every protocol is accepted,
 * guarded, answered, closed and expired here; protocols (JSON room/channel frames, y-websocket,
 * change streams) plug in what is theirs (`SocketProtocol`: decode, handle, closed).
 *
 * Inbound, per frame and in this order: the attachment (read once per socket per wake), grant
 * expiry, frame size before anything parses it, the protocol's rate budget (frames and bytes, per
 * connection and per actor), `decode`, then `handle` (or `handleNow`, the synchronous fast path,
 * when the mailbox is idle). A refused frame is reported with the protocol's error frame and
 * costs a strike, or closes the socket with the code of the close-code table (`CloseCodes.ts`).
 *
 * Grant expiry is one durable job at the earliest expiry of any socket (and of any other expiring
 * subscriber registered with `expiring`, such as SSE streams); it closes expired sockets with
 * 4001.
 *
 * @since 0.2.0
 */
import { Clock, Context, Effect } from "effect"
import { InvalidInput, LimitExceeded, PayloadTooLarge, type RealtimeError } from "../RealtimeError.js"
import { Jobs, type JobHandler } from "../services/Jobs.js"
import { describeRefusal } from "../services/RateBudget.js"
import { readAttachment, writeAttachment, type SocketAttachment } from "./Attachment.js"
import { Close, closeSocket, closingFor, echoCode, sendFrame, type Closing } from "./CloseCodes.js"
import { Connections } from "./Connections.js"
import { chargedBytes, frameTooBig, makeStrikes, MAX_RATE_STRIKES } from "./Guards.js"
import { FrameRefused, type SocketProtocol } from "./Protocol.js"

export const GRANT_EXPIRY_JOB = "grant-expiry"
/** The name of an object's default protocol: its sockets carry no `protocol` in their attachment. */
export const DEFAULT_PROTOCOL = "default"

export interface AcceptOptions {
  /** The protocol the socket speaks (registered with `register`). */
  readonly protocol: string
  readonly attachment: Omit<SocketAttachment, "protocol">
  /** Hibernation API tags (`ctx.getWebSockets(tag)`). */
  readonly tags?: ReadonlyArray<string>
  /** The `Sec-WebSocket-Protocol` the response names. */
  readonly subprotocol?: string
}

export interface SocketsShape {
  /** Plug a protocol in (once per object, when the actor is built). */
  readonly register: <Frame>(protocol: SocketProtocol<Frame>) => void
  /** Have the runtime answer this heartbeat itself, so a pinging but quiet client never wakes the object. */
  readonly answerPings: (ping: string, pong: string) => void
  /** Fails with `LimitExceeded` when the object already holds `max` connections (sockets and streams). */
  readonly roomFor: (what: string, max: number) => Effect.Effect<void, LimitExceeded>
  /**
   * Accept a socket with the hibernation API, write its attachment, add it to the fan-out and
   * arm the grant-expiry job for it. The caller sends its first frames on `server`, then answers
   * with `response`.
   */
  readonly accept: (options: AcceptOptions) => Effect.Effect<{ readonly server: WebSocket; readonly response: Response }>
  /** Accept only to send `frames` and close (a destroyed room: the client must not come back). */
  readonly acceptToClose: (options: { readonly subprotocol?: string; readonly frames: ReadonlyArray<string>; readonly closing: Closing; readonly detail?: string }) => Response
  /** The hibernation API's events, routed to each socket's protocol. */
  readonly message: (socket: WebSocket, message: string | ArrayBuffer) => Effect.Effect<void>
  /** The synchronous fast path (see `ActorBehavior.webSocketMessageNow`). */
  readonly messageNow: (socket: WebSocket, message: string | ArrayBuffer) => Effect.Effect<void> | undefined
  readonly closed: (socket: WebSocket, code: number, reason: string) => Effect.Effect<void>
  readonly errored: (socket: WebSocket) => Effect.Effect<void>
  /** The protocol a socket speaks (`DEFAULT_PROTOCOL` for the object's default one). */
  readonly protocolOf: (socket: WebSocket) => string
  /** Send one encoded frame to every open socket of a non-default protocol, except one connection; returns recipients. */
  readonly fanOut: (protocol: string, frame: string | Uint8Array, exceptConnection?: string | null) => number
  /** Whether a socket of this (non-default) protocol is open, other than the one of `exceptConnection`. */
  readonly anyOpen: (protocol: string, exceptConnection?: string) => boolean
  /** Close the sockets of these connection ids. */
  readonly closeConnections: (ids: ReadonlyArray<string>, closing: Closing, detail?: string) => void
  /** Arm the grant-expiry job for `at` (for subscribers that are not sockets: SSE streams). */
  readonly scheduleExpiry: (at: number) => Effect.Effect<void>
  /** Another kind of expiring subscriber: the job calls it and comes back at the earliest time any source returns. */
  readonly expiring: (expire: (now: number) => number | null) => void
  /** The hibernation API's events as an actor's behavior takes them (spread into it). */
  readonly events: {
    readonly webSocketMessage: (socket: WebSocket, message: string | ArrayBuffer) => Effect.Effect<void>
    readonly webSocketMessageNow: (socket: WebSocket, message: string | ArrayBuffer) => Effect.Effect<void> | undefined
    readonly webSocketClose: (socket: WebSocket, code: number, reason: string) => Effect.Effect<void>
    readonly webSocketError: (socket: WebSocket) => Effect.Effect<void>
  }
  /** The job handlers to include in the actor's `jobs`. */
  readonly jobs: { readonly [GRANT_EXPIRY_JOB]: JobHandler }
}

export class Sockets extends Context.Tag("durable-realtime/Sockets")<Sockets, SocketsShape>() {}

/** What `admit` gives for a frame it refused (a decoded frame may be any value, `undefined` included). */
const REFUSED: unique symbol = Symbol("refused")

const logFailure = (what: string) => (effect: Effect.Effect<void>) => Effect.catchAllCause(effect, (cause) => Effect.logError(`${what} failed`, cause))
const logMessageFailure = logFailure("webSocketMessage")

export const make = (ctx: DurableObjectState) =>
  Effect.gen(function* () {
    const connections = yield* Connections
    const jobs = yield* Jobs
    // Protocols are plugged in while the actor is built; `unknown` frames stay inside each protocol.
    const protocols = new Map<string, SocketProtocol<unknown>>()
    const strikes = makeStrikes()
    const expirySources: Array<(now: number) => number | null> = []

    const protocolFor = (attachment: SocketAttachment) => protocols.get(attachment.protocol ?? DEFAULT_PROTOCOL)

    const tell = (socket: WebSocket, protocol: SocketProtocol<unknown>, error: RealtimeError, frameId?: string) => {
      if (protocol.errorFrame !== undefined) sendFrame(socket, protocol.errorFrame(error, frameId))
    }

    /**
     * Everything before a frame's handler, synchronous: expiry, size, rate budget, decode. A
     * refused frame is answered (and struck, or its socket closed) here, and gives `REFUSED`;
     * an admitted one its decoded frame (no wrapper: this runs for every inbound frame).
     */
    const admit = (socket: WebSocket, attachment: SocketAttachment, protocol: SocketProtocol<unknown>, message: string | ArrayBuffer, now: number): unknown => {
      if (protocol.dropWhenClosing === true && socket.readyState !== WebSocket.OPEN) return REFUSED
      if (attachment.expiresAt !== undefined && attachment.expiresAt <= now) {
        closeSocket(socket, Close.grantExpired)
        return REFUSED
      }
      const size = frameTooBig(message, protocol.maxFrameBytes)
      if (size !== undefined) {
        tell(socket, protocol, new PayloadTooLarge({ field: "frame", size, limit: protocol.maxFrameBytes, message: `frame: ${size} bytes exceeds the limit of ${protocol.maxFrameBytes}` }))
        closeSocket(socket, Close.tooBig)
        return REFUSED
      }
      const { connectionId } = attachment
      const refusal = protocol.budget.admit(connectionId, attachment.member ?? connectionId, chargedBytes(message), now)
      if (refusal !== undefined) {
        if (protocol.overBudget?.(message) === "close") closeSocket(socket, Close.rateLimited, describeRefusal(refusal))
        else {
          tell(socket, protocol, new LimitExceeded({ limit: "rate", message: describeRefusal(refusal) }))
          if (strikes.rate(connectionId, now) >= MAX_RATE_STRIKES) closeSocket(socket, Close.rateLimited)
        }
        return REFUSED
      }
      const frame = protocol.decode(message, attachment)
      if (!(frame instanceof FrameRefused)) return frame
      tell(socket, protocol, frame.error, frame.frameId)
      if (frame.close !== undefined) closeSocket(socket, frame.close, frame.error.message)
      else if (strikes.invalid(connectionId) >= protocol.maxStrikes) closeSocket(socket, Close.policy)
      return REFUSED
    }

    /** A handler's failure reaches the client: as an error frame, or (without one) as the close code of the error. */
    const reported = (socket: WebSocket, protocol: SocketProtocol<unknown>, frame: unknown, handled: Effect.Effect<void, RealtimeError>): Effect.Effect<void> =>
      Effect.catchAll(handled, (error) =>
        Effect.sync(() => {
          if (protocol.errorFrame !== undefined) sendFrame(socket, protocol.errorFrame(error, protocol.frameId?.(frame)))
          else closeSocket(socket, closingFor(error), error.message)
        }),
      ).pipe(logMessageFailure)

    const unknownSocket = (socket: WebSocket) => Effect.sync(() => closeSocket(socket, Close.policy, "unknown connection"))

    const message = (socket: WebSocket, data: string | ArrayBuffer): Effect.Effect<void> =>
      Effect.suspend(() => {
        const attachment = readAttachment(socket)
        const protocol = attachment === null ? undefined : protocolFor(attachment)
        if (attachment === null || protocol === undefined) return unknownSocket(socket)
        return Effect.flatMap(Clock.currentTimeMillis, (now) => {
          const frame = admit(socket, attachment, protocol, data, now)
          return frame === REFUSED ? Effect.void : reported(socket, protocol, frame, protocol.handle(socket, attachment, frame))
        })
      }).pipe(logMessageFailure)

    // Time is `Date.now()`, which is what `Clock` reads in the Workers runtime.
    const messageNow = (socket: WebSocket, data: string | ArrayBuffer): Effect.Effect<void> | undefined => {
      try {
        const attachment = readAttachment(socket)
        const protocol = attachment === null ? undefined : protocolFor(attachment)
        if (attachment === null || protocol === undefined) return unknownSocket(socket)
        const now = Date.now()
        const frame = admit(socket, attachment, protocol, data, now)
        if (frame === REFUSED) return undefined
        const rest = protocol.handleNow === undefined ? protocol.handle(socket, attachment, frame) : protocol.handleNow(socket, attachment, frame, now)
        return rest === undefined ? undefined : reported(socket, protocol, frame, rest)
      } catch (error) {
        return Effect.logError("webSocketMessage failed", error)
      }
    }

    const closed = (socket: WebSocket, code: number, reason: string): Effect.Effect<void> =>
      Effect.suspend(() => {
        const attachment = readAttachment(socket)
        // Complete the close handshake (a no-op when the runtime already replied).
        closeSocket(socket, { code: echoCode(code), reason })
        connections.invalidate()
        if (attachment === null) return Effect.void
        strikes.forget(attachment.connectionId)
        const protocol = protocolFor(attachment)
        if (protocol === undefined) return Effect.void
        protocol.budget.forget(attachment.connectionId)
        return protocol.closed?.(socket, attachment, code, reason) ?? Effect.void
      }).pipe(logFailure("webSocketClose"))

    const scheduleExpiry = (at: number) => Effect.catchAll(jobs.ensure(GRANT_EXPIRY_JOB, at), (error) => Effect.logWarning("grant expiry not scheduled", error))

    /** Close connections whose grant expired; come back at the next expiry. */
    const expiryJob: JobHandler = Effect.map(Clock.currentTimeMillis, (now) => {
      let next: number | null = null
      for (const entry of connections.list()) {
        const at = entry.attachment?.expiresAt
        if (at === undefined || entry.socket.readyState > 1) continue
        if (at <= now) closeSocket(entry.socket, Close.grantExpired)
        else if (next === null || at < next) next = at
      }
      for (const expire of expirySources) {
        const at = expire(now)
        if (at !== null && (next === null || at < next)) next = at
      }
      return next
    })

    const fanOut = (protocol: string, frame: string | Uint8Array, exceptConnection?: string | null): number => {
      let sent = 0
      for (const entry of connections.list()) {
        if (entry.attachment?.protocol !== protocol || entry.id === exceptConnection) continue
        if (sendFrame(entry.socket, frame)) sent++
      }
      return sent
    }

    const errored = (socket: WebSocket) => closed(socket, Close.goingAway.code, Close.goingAway.reason)

    return Sockets.of({
      register: (protocol) => {
        protocols.set(protocol.name, protocol as SocketProtocol<unknown>)
      },
      answerPings: (ping, pong) => {
        try {
          ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(ping, pong))
        } catch {
          // not available (older runtime): pings then reach the protocol, which answers them
        }
      },
      roomFor: (what, max) =>
        connections.count() >= max ? Effect.fail(new LimitExceeded({ limit: "connections", message: `this ${what} has reached maxConnections (${max})` })) : Effect.void,
      accept: (options) =>
        Effect.gen(function* () {
          const pair = new WebSocketPair()
          const [client, server] = [pair[0], pair[1]]
          const attachment: SocketAttachment = options.protocol === DEFAULT_PROTOCOL ? options.attachment : { ...options.attachment, protocol: options.protocol }
          ctx.acceptWebSocket(server, options.tags === undefined ? undefined : [...options.tags])
          writeAttachment(server, attachment)
          connections.added(server, attachment)
          if (attachment.expiresAt !== undefined) yield* scheduleExpiry(attachment.expiresAt)
          const headers = options.subprotocol === undefined ? undefined : { "Sec-WebSocket-Protocol": options.subprotocol }
          return { server, response: new Response(null, { status: 101, webSocket: client, headers }) }
        }),
      acceptToClose: (options) => {
        const pair = new WebSocketPair()
        const [client, server] = [pair[0], pair[1]]
        server.accept()
        for (const frame of options.frames) sendFrame(server, frame)
        closeSocket(server, options.closing, options.detail)
        const headers = options.subprotocol === undefined ? undefined : { "Sec-WebSocket-Protocol": options.subprotocol }
        return new Response(null, { status: 101, webSocket: client, headers })
      },
      message,
      messageNow,
      closed,
      errored,
      events: { webSocketMessage: message, webSocketMessageNow: messageNow, webSocketClose: closed, webSocketError: errored },
      protocolOf: (socket) => readAttachment(socket)?.protocol ?? DEFAULT_PROTOCOL,
      fanOut,
      anyOpen: (protocol, exceptConnection) => connections.list().some((entry) => entry.attachment?.protocol === protocol && entry.id !== exceptConnection),
      closeConnections: (ids, closing, detail) => {
        const wanted = new Set(ids)
        for (const entry of connections.list()) if (entry.id !== undefined && wanted.has(entry.id)) closeSocket(entry.socket, closing, detail)
      },
      scheduleExpiry,
      expiring: (expire) => {
        expirySources.push(expire)
      },
      jobs: { [GRANT_EXPIRY_JOB]: expiryJob },
    })
  })

/** A refusal for `decode`: this frame is not valid input (a strike, or `close` at once). */
export const invalidFrame = (message: string, options?: { readonly close?: Closing; readonly frameId?: string }) =>
  new FrameRefused(new InvalidInput({ field: "frame", message }), options?.close, options?.frameId)
