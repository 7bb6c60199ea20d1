/**
 * Live connections of a room or channel: WebSocket (hibernation API) and Server-Sent Events.
 *
 * The Worker verifies the grant before forwarding (src/http/), and names the verified grant in a
 * header it always overwrites; this module trusts only that header. Sockets are accepted, guarded
 * (expiry, size before parsing, rate budget, strikes), closed and expired by the object's socket
 * layer (src/sockets/Sockets.ts); the JSON frame protocol it plugs in is `LiveFrames.ts`, the
 * hooks `LiveHooks.ts`. What stays here is what is a room's or channel's own: the resume plan,
 * `ready` with the member list, membership on join and close, and the SSE transport.
 *
 * @since 0.1.0
 */
import { Clock, Effect, Schema } from "effect"
import { InvalidInput, RoomDestroyed, toResponse, Unauthorized } from "../../RealtimeError.js"
import type { Actor } from "../../schema/Common.js"
import { MEMBERS_PAGE, READY_MEMBERS, SUBPROTOCOL, type ReadyFrame } from "../../schema/Protocol.js"
import { grantAttachment, type SocketAttachment } from "../../sockets/Attachment.js"
import { Close } from "../../sockets/CloseCodes.js"
import { Connections } from "../../sockets/Connections.js"
import { DEFAULT_PROTOCOL, Sockets } from "../../sockets/Sockets.js"
import { ActorContext } from "../Actor.js"
import { makeLiveFrames } from "./LiveFrames.js"
import { makeLiveHooks } from "./LiveHooks.js"
import type { Members } from "../room/Members.js"
import { iso, type Messaging } from "../messaging/Messaging.js"
import { discontinuityFrame, errorFrame, eventFrame, membersFrameText, messageFrame, readyFrame } from "../../schema/ServerFrames.js"
import { planResume } from "../messaging/Resume.js"
import { makeSse } from "./LiveSse.js"
import { ForwardedGrant, LiveHeaders } from "../../schema/LiveGrant.js"

export { MAX_STRIKES } from "./LiveFrames.js"

export const makeLive = (options: { readonly kind: "room" | "channel"; readonly messaging: Messaging; readonly members?: Members; readonly metadata?: () => Record<string, unknown> }) =>
  Effect.gen(function* () {
    const { kind, messaging, members } = options
    const connections = yield* Connections
    const sockets = yield* Sockets
    const { address, config } = yield* ActorContext
    const onJoin = config.hooks.onJoin
    const onClose = config.hooks.onClose
    const hooks = makeLiveHooks({ kind, id: address.id, messaging, connections })

    // The runtime answers the heartbeat itself, so a pinging but quiet client never wakes the room.
    sockets.answerPings('{"type":"ping"}', '{"type":"pong"}')

    /** After the layer completed the close handshake and forgot the socket's budget and strikes. */
    const closed = (_socket: WebSocket, attachment: SocketAttachment, code: number, reason: string): Effect.Effect<void> =>
      Effect.gen(function* () {
        if (members !== undefined && attachment.actor !== undefined) yield* Effect.either(members.socketClosed(attachment.actor, attachment.connectionId))
        const now = yield* Clock.currentTimeMillis
        yield* Effect.either(messaging.scheduleReport(now))
        if (onClose !== undefined) yield* hooks.run(onClose(hooks.info(attachment), { code, reason }), () => undefined)
      })

    // Rate budgets (frames and bytes, per connection and per actor) are the ones HTTP writes pay too.
    sockets.register({ ...makeLiveFrames({ kind, messaging, members, connections, config, hooks, budget: messaging.budget }), closed })

    const sse = yield* makeSse({ kind, messaging })

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

    const acceptSocket = (request: Request, grant: ForwardedGrant) =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const destroyed = messaging.lifecycle.status().status === "destroyed"
        const since = new URL(request.url).searchParams.get("since") ?? undefined
        const planned = yield* Effect.either(planResume(messaging.log, since, { destroyed, limit: config.historyLimit }))
        if (planned._tag === "Left") return toResponse(planned.left)
        const plan = planned.right
        if (destroyed) {
          // Accept only to say why, then close: a client must not reconnect to a destroyed room.
          const frames = [
            ...(plan.discontinuity === undefined ? [] : [discontinuityFrame(plan.discontinuity)]),
            errorFrame(new RoomDestroyed({ kind, id: address.id, message: `${kind} ${address.id} was destroyed` })),
          ]
          return sockets.acceptToClose({ subprotocol: SUBPROTOCOL, frames, closing: Close.destroyed, detail: `${kind} destroyed` })
        }
        const room = yield* Effect.either(sockets.roomFor(kind, config.maxConnections))
        if (room._tag === "Left") return toResponse(room.left)
        // A room member joins before the socket is in the fan-out: others get it in the next `members` frame, this one gets `ready` with the list.
        if (members !== undefined) yield* Effect.either(members.joinSocket(grant.actor))
        const attachment = grantAttachment(grant)
        const { server, response } = yield* sockets.accept({ protocol: DEFAULT_PROTOCOL, attachment, tags: [`actor:${grant.actor.id}`.slice(0, 256)], subprotocol: SUBPROTOCOL })
        if (plan.discontinuity !== undefined) server.send(discontinuityFrame(plan.discontinuity))
        for (const message of plan.messages) server.send(messageFrame(message))
        // The member list is paged: `ready` carries the first page, the rest follow right after it.
        // Members arrive as cached JSON text (a room filling with N members sends N²/2 member entries).
        const memberList = members?.listJson(attachment.connectionId) ?? []
        const ready: Omit<ReadyFrame, "members"> = {
          type: "ready",
          connectionId: attachment.connectionId,
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
        yield* Effect.either(messaging.lifecycle.touch(now, true))
        yield* Effect.either(messaging.scheduleReport(now))
        if (onJoin !== undefined) {
          const reply = (frame: string) => {
            try {
              server.send(frame)
            } catch {
              // closing socket
            }
          }
          yield* hooks.run(onJoin(hooks.info(attachment), yield* hooks.api(attachment, reply)), reply)
        }
        return response
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

    /** `sendTo(actorId, event)`: an ephemeral event to every connection of one actor. */
    const sendTo = (actorId: string, event: { readonly type: string; readonly data?: unknown }, from: Actor) =>
      Effect.map(Clock.currentTimeMillis, (now) =>
        connections.sendTo(actorId, eventFrame({ type: event.type, data: event.data ?? null, actor: from, createdAt: iso(now) })),
      )

    return {
      fetch,
      /** The hibernation API's events, for the actor's behavior: the socket layer's. */
      events: sockets.events,
      sendTo,
      sseStats: sse.bufferedBytes,
      jobs: { ...sockets.jobs, ...sse.jobs },
    }
  })
