/**
 * Live connections of a room or channel: WebSocket (hibernation API) and Server-Sent Events.
 *
 * The Worker verifies the grant before forwarding (src/http/), and names the verified grant in a
 * header it always overwrites; this module trusts only that header. A socket is accepted with
 * `ctx.acceptWebSocket` and a small attachment written once (connection id, actor, permissions,
 * grant expiry); nothing per message is written to it, so a quiet room hibernates and costs nothing.
 *
 * Inbound frames: expiry check, size check before parsing, token bucket, Schema decode, then one
 * handler. Bad frames get an `error` frame and change nothing; repeated abuse closes the socket.
 * Grant expiry is also enforced by a durable job at the earliest expiry of any connection.
 *
 * @since 0.1.0
 */
import { Clock, Effect, Schema } from "effect"
import type { LiveConnectionInfo, LiveHookApi } from "../../Config.js"
import { CloseCode, Forbidden, InvalidInput, invalidInputFromParseError, LimitExceeded, PayloadTooLarge, RoomDestroyed, Unauthorized, toResponse, type RealtimeError } from "../../RealtimeError.js"
import { Actor, jsonTextTooDeep, MAX_JSON_DEPTH } from "../../schema/Common.js"
import { ClientFrame, MEMBERS_PAGE, memberKey, READY_MEMBERS, SUBPROTOCOL, type ClientFrame as ClientFrameType, type ReadyFrame } from "../../schema/Protocol.js"
import { readAttachment, writeAttachment, type SocketAttachment } from "../../sockets/Attachment.js"
import { Connections } from "../../sockets/Connections.js"
import { Jobs } from "../../services/Jobs.js"
import { describeRefusal } from "../../services/RateBudget.js"
import { ActorContext, ObjectState } from "../Actor.js"
import type { Members } from "../room/Members.js"
import { iso, type Messaging } from "../messaging/Messaging.js"
import { ackFrame, discontinuityFrame, errorFrame, eventFrame as encodeEventFrame, membersFrameText, messageFrame, pongFrame, readyFrame } from "../../schema/ServerFrames.js"
import { planResume } from "../messaging/Resume.js"
import { makeSse } from "./LiveSse.js"
import { ForwardedGrant, LiveHeaders } from "../../schema/LiveGrant.js"


export const GRANT_EXPIRY_JOB = "grant-expiry"
/** Bad frames tolerated before the socket is closed with `CloseCode.policy`. */
export const MAX_STRIKES = 5
/** Rate-limited frames tolerated before the socket is closed with `CloseCode.rateLimited`. */
export const MAX_RATE_STRIKES = 20
/** Rate strikes further apart than this start the count again. */
export const RATE_STRIKE_WINDOW_MS = 10_000

/** Bracket depth a client frame may have: a JSON value's limit plus the frame's own envelope. */
const MAX_FRAME_DEPTH = MAX_JSON_DEPTH + 3

const SERVER_ACTOR = { type: "service", id: "server" } as const



const safeSend = (socket: WebSocket, frame: string) => {
  try {
    socket.send(frame)
  } catch {
    // closing socket
  }
}

const safeClose = (socket: WebSocket, code: number, reason: string) => {
  try {
    socket.close(code, reason)
  } catch {
    // already closed
  }
}

/** UTF-8 size of a text frame, without encoding it when the answer is obvious. */
const frameTooBig = (message: string | ArrayBuffer, limit: number): number | undefined => {
  if (typeof message !== "string") return message.byteLength > limit ? message.byteLength : undefined
  // UTF-8 takes at least one byte and at most three per UTF-16 unit.
  if (message.length > limit) return message.length
  if (message.length * 3 <= limit) return undefined
  const size = new TextEncoder().encode(message).byteLength
  return size > limit ? size : undefined
}

export const makeLive = (options: { readonly kind: "room" | "channel"; readonly messaging: Messaging; readonly members?: Members; readonly metadata?: () => Record<string, unknown> }) =>
  Effect.gen(function* () {
    const { kind, messaging, members } = options
    const { ctx } = yield* ObjectState
    const connections = yield* Connections
    const jobs = yield* Jobs
    const { address, config } = yield* ActorContext
    const hooks = config.hooks

    // The runtime answers the heartbeat itself, so a pinging but quiet client never wakes the room.
    try {
      ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair('{"type":"ping"}', '{"type":"pong"}'))
    } catch {
      // not available (older runtime): pings then reach webSocketMessage and are answered there
    }

    // Rate budgets (frames and bytes, per connection and per actor) and strike counts live in
    // memory: hibernation or eviction drops them, which only refills the buckets.
    const budget = messaging.budget
    const strikes = new Map<string, { strikes: number; rateStrikes: number; lastStrikeAt: number }>()

    const info = (attachment: SocketAttachment): LiveConnectionInfo => ({
      connectionId: attachment.connectionId,
      kind,
      id: address.id,
      actor: attachment.actor ?? { type: "anonymous", id: "anonymous" },
      permissions: attachment.permissions ?? [],
    })

    const eventFrame = (event: { readonly type: string; readonly data?: unknown }, actor: Actor) =>
      Effect.map(Clock.currentTimeMillis, (now) =>
        encodeEventFrame({ type: event.type, data: event.data ?? null, actor, createdAt: iso(now) }),
      )

    const hookApi = (attachment: SocketAttachment, reply: (frame: string) => void): Effect.Effect<LiveHookApi> =>
      Effect.map(Clock.currentTimeMillis, (now): LiveHookApi => {
        const frame = (event: { readonly type: string; readonly data?: unknown }) =>
          encodeEventFrame({ type: event.type, data: event.data ?? null, actor: SERVER_ACTOR, createdAt: iso(now) })
        return {
          reply: (event) => reply(frame(event)),
          broadcast: (event, opts) => connections.broadcast(frame(event), opts?.includeSelf ? undefined : new Set([attachment.connectionId])),
          sendTo: (actorId, event) => connections.sendTo(actorId, frame(event)),
          publish: (message) =>
            messaging.deliver({ type: message.type, data: message.data ?? null, metadata: message.metadata, actor: attachment.actor, ephemeral: false }, undefined),
        }
      })

    /** Run a hook; its failure is reported to the connection, never thrown. */
    const runHook = (effect: Effect.Effect<void, unknown>, report: (frame: string) => void) =>
      Effect.catchAllCause(effect, (cause) =>
        Effect.sync(() => report(errorFrame({ _tag: "HookFailed", message: `hook failed: ${String(cause).slice(0, 200)}` }))),
      )

    const scheduleExpiry = (at: number) => jobs.ensure(GRANT_EXPIRY_JOB, at)

    const sse = yield* makeSse({ kind, messaging, scheduleExpiry })

    /** Read the verified grant the Worker forwarded. */
    const forwardedGrant = (request: Request): ForwardedGrant | undefined => {
      const raw = request.headers.get(LiveHeaders.grant)
      if (raw === null) return undefined
      try {
        const decoded = Schema.decodeUnknownEither(ForwardedGrant)(JSON.parse(raw))
        return decoded._tag === "Right" ? decoded.right : undefined
      } catch {
        return undefined
      }
    }

    const attachmentOf = readAttachment

    const acceptSocket = (request: Request, grant: ForwardedGrant) =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const destroyed = messaging.lifecycle.status().status === "destroyed"
        const since = new URL(request.url).searchParams.get("since") ?? undefined
        const planned = yield* Effect.either(planResume(messaging.log, since, { destroyed, limit: config.historyLimit }))
        if (planned._tag === "Left") return toResponse(planned.left)
        const plan = planned.right
        if (!destroyed && connections.count() >= config.maxConnections) {
          return toResponse(new LimitExceeded({ limit: "connections", message: `this ${kind} has reached maxConnections (${config.maxConnections})` }))
        }
        const pair = new WebSocketPair()
        const [client, server] = [pair[0], pair[1]]
        const connectionId = crypto.randomUUID()
        const attachment: SocketAttachment = {
          connectionId,
          member: memberKey(grant.actor),
          actorId: grant.actor.id,
          actor: grant.actor,
          permissions: grant.permissions,
          expiresAt: grant.expiresAt,
        }
        const headers = { "Sec-WebSocket-Protocol": SUBPROTOCOL }
        if (destroyed) {
          // Accept only to say why, then close: a client must not reconnect to a destroyed room.
          server.accept()
          if (plan.discontinuity !== undefined) safeSend(server, discontinuityFrame(plan.discontinuity))
          safeSend(server, errorFrame(new RoomDestroyed({ kind, id: address.id, message: `${kind} ${address.id} was destroyed` })))
          safeClose(server, CloseCode.destroyed, `${kind} destroyed`)
          return new Response(null, { status: 101, webSocket: client, headers })
        }
        // A room member joins before the socket is in the fan-out: others get it in the next `members` frame, this one gets `ready` with the list.
        if (members !== undefined) yield* Effect.either(members.join({ actor: grant.actor, via: "socket" }))
        ctx.acceptWebSocket(server, [`actor:${grant.actor.id}`.slice(0, 256)])
        writeAttachment(server, attachment)
        connections.added(server, attachment)
        if (plan.discontinuity !== undefined) server.send(discontinuityFrame(plan.discontinuity))
        for (const message of plan.messages) server.send(messageFrame(message))
        // The member list is paged: `ready` carries the first page, the rest follow right after it.
        // Members arrive as cached JSON text (a room filling with N members sends N²/2 member entries).
        const memberList = members?.listJson() ?? []
        const ready: Omit<ReadyFrame, "members"> = {
          type: "ready",
          connectionId,
          kind,
          id: address.id,
          epoch: plan.epoch,
          seq: plan.seq,
          resumed: plan.resumed,
          replayed: plan.messages.length,
          actor: grant.actor,
          permissions: grant.permissions,
          expiresAt: grant.expiresAt,
          heartbeatMs: config.heartbeatMs,
          ...(members === undefined ? {} : { memberCount: memberList.length, metadata: options.metadata?.() ?? {} }),
        }
        server.send(readyFrame(ready, members === undefined ? undefined : memberList.slice(0, READY_MEMBERS)))
        for (let start = READY_MEMBERS; start < memberList.length; start += MEMBERS_PAGE) {
          server.send(membersFrameText(memberList.slice(start, start + MEMBERS_PAGE), [], memberList.length))
        }
        yield* scheduleExpiry(grant.expiresAt)
        yield* Effect.either(messaging.lifecycle.touch(now, true))
        yield* Effect.either(messaging.scheduleReport(now))
        if (hooks.onJoin !== undefined) {
          const api = yield* hookApi(attachment, (frame) => safeSend(server, frame))
          yield* runHook(hooks.onJoin(info(attachment), api), (frame) => safeSend(server, frame))
        }
        return new Response(null, { status: 101, webSocket: client, headers })
      })

    const fetch = (request: Request): Effect.Effect<Response> =>
      Effect.gen(function* () {
        const grant = forwardedGrant(request)
        if (grant === undefined) return toResponse(new Unauthorized({ reason: "missing", message: "no verified grant" }))
        const now = yield* Clock.currentTimeMillis
        if (grant.expiresAt <= now) return toResponse(new Unauthorized({ reason: "expired", message: "grant expired" }))
        if (request.headers.get(LiveHeaders.transport) === "sse") return yield* sse.open(request, grant)
        if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
          return toResponse(new InvalidInput({ field: "upgrade", message: "upgrade: expected a WebSocket upgrade" }))
        }
        return yield* acceptSocket(request, grant)
      }).pipe(Effect.catchAllCause((cause) => Effect.succeed(new Response(`durable-realtime: ${String(cause).slice(0, 200)}`, { status: 500 }))))

    /** One decoded frame from one connection. */
    const handle = (socket: WebSocket, attachment: SocketAttachment, frame: ClientFrameType): Effect.Effect<void, RealtimeError> =>
      Effect.gen(function* () {
        const permissions = attachment.permissions ?? []
        const actor = attachment.actor ?? { type: "anonymous" as const, id: "anonymous" }
        const need = (permission: string) =>
          permissions.includes(permission) ? Effect.void : Effect.fail(new Forbidden({ message: `this grant has no "${permission}" permission` }))
        switch (frame.type) {
          case "publish": {
            yield* need("publish")
            const result = yield* messaging.deliver({ ...frame.message, actor, ephemeral: false }, undefined)
            if (frame.id !== undefined && result.message !== null) {
              safeSend(socket, ackFrame({ type: "ack", id: frame.id, message: result.message, duplicate: result.duplicate }))
            }
            return
          }
          case "broadcast": {
            yield* need("publish")
            const result = yield* messaging.deliver(
              { ...frame.event, actor, ephemeral: true, except: frame.includeSelf ? undefined : [attachment.connectionId] },
              undefined,
            )
            if (frame.id !== undefined) safeSend(socket, ackFrame({ type: "ack", id: frame.id, delivered: result.delivered }))
            return
          }
          case "presence": {
            if (members === undefined) return yield* new InvalidInput({ field: "type", message: "type: channels have no presence" })
            yield* need("presence")
            yield* messaging.lifecycle.assertWritable
            yield* members.updatePresence(actor, frame.presence, "socket")
            if (frame.id !== undefined) safeSend(socket, ackFrame({ type: "ack", id: frame.id }))
            return
          }
          case "ping":
            safeSend(socket, pongFrame(frame.id))
            return
          case "send": {
            if (hooks.onMessage === undefined) {
              return yield* new InvalidInput({ field: "type", message: `type: this ${kind} has no onMessage hook for "send" frames` })
            }
            const api = yield* hookApi(attachment, (reply) => safeSend(socket, reply))
            yield* runHook(hooks.onMessage(info(attachment), frame.event, api), (reply) => safeSend(socket, reply))
            if (frame.id !== undefined) safeSend(socket, ackFrame({ type: "ack", id: frame.id }))
            return
          }
        }
      })

    const strike = (socket: WebSocket, state: { strikes: number }) => {
      state.strikes++
      if (state.strikes >= MAX_STRIKES) safeClose(socket, CloseCode.policy, "too many invalid frames")
    }

    /**
     * Everything before a frame's handler, synchronous: expiry, size before parsing, rate budget,
     * JSON depth, parse, Schema decode. A refused frame is answered here and gives `undefined`.
     */
    const admit = (socket: WebSocket, message: string | ArrayBuffer, now: number): { readonly attachment: SocketAttachment; readonly frame: ClientFrameType } | undefined => {
      const attachment = attachmentOf(socket)
      if (attachment === null) return undefined
      if (attachment.expiresAt !== undefined && attachment.expiresAt <= now) {
        safeClose(socket, CloseCode.grantExpired, "grant expired")
        return undefined
      }
      let state = strikes.get(attachment.connectionId)
      if (state === undefined) {
        state = { strikes: 0, rateStrikes: 0, lastStrikeAt: 0 }
        strikes.set(attachment.connectionId, state)
      }
      const size = frameTooBig(message, config.maxFrameBytes)
      if (size !== undefined) {
        const error = new PayloadTooLarge({ field: "frame", size, limit: config.maxFrameBytes, message: `frame: ${size} bytes exceeds the limit of ${config.maxFrameBytes}` })
        safeSend(socket, errorFrame(error))
        safeClose(socket, CloseCode.tooBig, "frame too big")
        return undefined
      }
      // Frames and bytes, this connection's bucket and its actor's (shared by all its sockets here).
      const refusal = budget.admit(attachment.connectionId, attachment.member ?? attachment.connectionId, typeof message === "string" ? message.length : message.byteLength, now)
      if (refusal !== undefined) {
        // Abuse is a sustained pattern: strikes older than the window are forgiven.
        if (now - state.lastStrikeAt > RATE_STRIKE_WINDOW_MS) state.rateStrikes = 0
        state.lastStrikeAt = now
        state.rateStrikes++
        safeSend(socket, errorFrame(new LimitExceeded({ limit: "rate", message: describeRefusal(refusal) })))
        if (state.rateStrikes >= MAX_RATE_STRIKES) safeClose(socket, CloseCode.rateLimited, "rate limit exceeded")
        return undefined
      }
      if (typeof message !== "string") {
        safeSend(socket, errorFrame(new InvalidInput({ field: "frame", message: "frame: binary frames are not part of this protocol" })))
        return void strike(socket, state)
      }
      // Nesting is checked on the text, before JSON.parse spends time and stack on it.
      // (A frame shorter than the limit cannot nest past it: tiny frames such as pings skip the scan.)
      if (message.length > MAX_FRAME_DEPTH && jsonTextTooDeep(message, MAX_FRAME_DEPTH)) {
        safeSend(socket, errorFrame(new InvalidInput({ field: "frame", message: `frame: nested deeper than ${MAX_JSON_DEPTH} levels` })))
        return void strike(socket, state)
      }
      let json: unknown
      try {
        json = JSON.parse(message)
      } catch {
        safeSend(socket, errorFrame(new InvalidInput({ field: "frame", message: "frame: not JSON" })))
        return void strike(socket, state)
      }
      const decoded = Schema.decodeUnknownEither(ClientFrame)(json)
      if (decoded._tag === "Left") {
        const id = typeof (json as { id?: unknown })?.id === "string" ? (json as { id: string }).id.slice(0, 128) : undefined
        safeSend(socket, errorFrame(invalidInputFromParseError(decoded.left, "frame"), id))
        return void strike(socket, state)
      }
      return { attachment, frame: decoded.right }
    }

    /** Run one admitted frame's handler; its failure goes back to the connection as an `error` frame. */
    const handleAdmitted = (socket: WebSocket, attachment: SocketAttachment, frame: ClientFrameType): Effect.Effect<void> =>
      Effect.flatMap(Effect.either(handle(socket, attachment, frame)), (outcome) =>
        outcome._tag === "Left" ? Effect.sync(() => safeSend(socket, errorFrame(outcome.left, frame.id))) : Effect.void,
      ).pipe(Effect.catchAllCause((cause) => Effect.logError("webSocketMessage failed", cause)))

    const webSocketMessage = (socket: WebSocket, message: string | ArrayBuffer): Effect.Effect<void> =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const admitted = admit(socket, message, now)
        return admitted === undefined ? Effect.void : handleAdmitted(socket, admitted.attachment, admitted.frame)
      }).pipe(Effect.catchAllCause((cause) => Effect.logError("webSocketMessage failed", cause)))

    /**
     * The host calls this instead of `webSocketMessage` when the mailbox is idle (so frames stay one
     * at a time and in order). Admission runs here synchronously, and a `broadcast` (nothing stored)
     * or a `publish` (stored by a synchronous SQLite transaction: nothing can suspend) is answered
     * without entering a fiber. Every other frame, and one of those that will be refused, comes
     * back as the Effect that handles it, which the host runs in the mailbox. Time is `Date.now()`, what `Clock` reads in the Workers runtime.
     */
    const webSocketMessageNow = (socket: WebSocket, message: string | ArrayBuffer): Effect.Effect<void> | undefined => {
      try {
        return broadcastNow(socket, message)
      } catch (error) {
        return Effect.logError("webSocketMessage failed", error)
      }
    }

    const broadcastNow = (socket: WebSocket, message: string | ArrayBuffer): Effect.Effect<void> | undefined => {
      const now = Date.now()
      const admitted = admit(socket, message, now)
      if (admitted === undefined) return undefined
      const { attachment, frame } = admitted
      // Anything else, and a frame that will be refused, takes the ordinary path (its errors and all).
      if ((frame.type !== "broadcast" && frame.type !== "publish") || !(attachment.permissions ?? []).includes("publish") || messaging.lifecycle.status().status === "destroyed") {
        return handleAdmitted(socket, attachment, frame)
      }
      const actor = attachment.actor ?? { type: "anonymous" as const, id: "anonymous" }
      if (frame.type === "publish") return publishNow(socket, attachment, frame, actor, now)
      const text = encodeEventFrame({ type: frame.event.type, data: frame.event.data, metadata: frame.event.metadata, actor, createdAt: iso(now) })
      const delivered = connections.broadcast(text, frame.includeSelf ? undefined : new Set([attachment.connectionId]))
      if (frame.id !== undefined) safeSend(socket, ackFrame({ type: "ack", id: frame.id, delivered }))
      return undefined
    }

    /**
     * A socket `publish` without a fiber: stored (or recognised as a retry), fanned out, acked, as
     * `handle` does. When the append cannot succeed here (too large, strict key conflict, storage
     * error) nothing has changed and the frame takes the ordinary path whole, which reports it.
     * What is left (marking activity, the directory report, when not already in hand) runs in the
     * mailbox after the ack, so later frames still wait behind it.
     */
    const publishNow = (
      socket: WebSocket,
      attachment: SocketAttachment,
      frame: Extract<ClientFrameType, { readonly type: "publish" }>,
      actor: Actor,
      now: number,
    ): Effect.Effect<void> | undefined => {
      const done = messaging.deliverNow(frame.message, actor, now)
      if (done === undefined) return handleAdmitted(socket, attachment, frame)
      const { result, rest } = done
      if (frame.id !== undefined && result.message !== null) {
        safeSend(socket, ackFrame({ type: "ack", id: frame.id, message: result.message, duplicate: result.duplicate }))
      }
      if (rest === undefined) return undefined
      return Effect.catchAll(rest, (error) => Effect.sync(() => safeSend(socket, errorFrame(error, frame.id)))).pipe(
        Effect.catchAllCause((cause) => Effect.logError("webSocketMessage failed", cause)),
      )
    }

    const webSocketClose = (socket: WebSocket, code: number, reason: string): Effect.Effect<void> =>
      Effect.gen(function* () {
        const attachment = attachmentOf(socket)
        connections.invalidate()
        // Complete the close handshake (a no-op when the runtime already replied).
        safeClose(socket, code >= 1000 && code < 5000 && code !== 1005 && code !== 1006 ? code : CloseCode.normal, reason)
        connections.invalidate()
        if (attachment === null) return
        budget.forget(attachment.connectionId)
        strikes.delete(attachment.connectionId)
        if (members !== undefined && attachment.actor !== undefined) yield* Effect.either(members.socketClosed(attachment.actor, attachment.connectionId))
        const now = yield* Clock.currentTimeMillis
        yield* Effect.either(messaging.scheduleReport(now))
        if (hooks.onClose !== undefined) yield* runHook(hooks.onClose(info(attachment), { code, reason }), () => undefined)
      }).pipe(Effect.catchAllCause((cause) => Effect.logError("webSocketClose failed", cause)))

    const webSocketError = (socket: WebSocket): Effect.Effect<void> => webSocketClose(socket, CloseCode.goingAway, "error")

    /** Close connections whose grant expired; come back at the next expiry. */
    const grantExpiryJob = Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      let next: number | null = null
      for (const entry of connections.list()) {
        const at = entry.attachment?.expiresAt
        if (at === undefined || entry.socket.readyState > 1) continue
        if (at <= now) safeClose(entry.socket, CloseCode.grantExpired, "grant expired")
        else if (next === null || at < next) next = at
      }
      const sseNext = sse.expire(now)
      if (sseNext !== null && (next === null || sseNext < next)) next = sseNext
      return next
    })

    /** `sendTo(actorId, event)`: an ephemeral event to every connection of one actor. */
    const sendTo = (actorId: string, event: { readonly type: string; readonly data?: unknown }, from: Actor) =>
      Effect.map(eventFrame(event, from), (frame) => connections.sendTo(actorId, frame))

    return {
      fetch,
      webSocketMessage,
      webSocketMessageNow,
      webSocketClose,
      webSocketError,
      sendTo,
      sseStats: sse.bufferedBytes,
      jobs: { [GRANT_EXPIRY_JOB]: grantExpiryJob, ...sse.jobs },
    }
  })
