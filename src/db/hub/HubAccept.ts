/**
 * A verified subscription joining a change stream: the request the Worker forwarded (its
 * subscription in a header the Worker always overwrites) is decoded and checked for expiry, then the
 * socket is accepted with its snapshot or its `since` replay sent first, and `ready` last. Used by a
 * table hub object for its partition and by a shard for each partition it hosts itself.
 *
 * What the caller guarantees: no change is applied to the stream between the snapshot or replay
 * read here and the socket joining the stream's subscribers (a hub holds its mailbox; a shard holds
 * its mailbox and its drain).
 *
 * @since 0.2.0
 */
import { Clock, Effect, Schema } from "effect"
import { InvalidInput, Unauthorized, toResponse, type RealtimeError } from "../../RealtimeError.js"
import { DEFAULT_PROTOCOL, type SocketsShape } from "../../sockets/Sockets.js"
import type { DatabaseDefinition, ResolvedTable } from "../Declaration.js"
import { DB_SUBPROTOCOL } from "../Names.js"
import { ForwardedSubscription, SubscriptionHeader } from "../Protocol.js"
import type { Page } from "../Query.js"
import { deliveryFor, frameCache, gapFrameFor, type Subscriber } from "./Changes.js"
import { encodeDbFrame as encode, type SubscriberData } from "./HubSockets.js"
import type { HubStream } from "./HubStream.js"

export type ReadSnapshot = (
  table: ResolvedTable,
  subscription: ForwardedSubscription,
  limit: number,
  cursor: string | undefined,
) => Effect.Effect<{ readonly page: Page; readonly watermarks: Record<string, number> }, RealtimeError>

export const acceptSubscription = (options: {
  readonly definition: DatabaseDefinition
  readonly stream: HubStream
  readonly sockets: SocketsShape
  readonly readSnapshot: ReadSnapshot
  /** The partition, written in the socket's data when one object hosts several streams. */
  readonly hub?: string
  readonly subscription: ForwardedSubscription
  readonly table: ResolvedTable
}): Effect.Effect<Response, RealtimeError> =>
  Effect.gen(function* () {
    const { definition, stream, sockets, subscription, table } = options
    const frames: Array<string> = []
    let watermarks: Record<string, number> | undefined
    let replayed = 0
    let resumed = false
    if (subscription.snapshot !== undefined) {
      const snap = yield* options.readSnapshot(table, subscription, subscription.snapshot.limit, subscription.snapshot.cursor)
      watermarks = snap.watermarks
      frames.push(encode({ type: "database.snapshot", table: table.name, rows: snap.page.rows, nextCursor: snap.page.nextCursor }))
    } else if (subscription.since !== undefined) {
      const plan = yield* stream.replay(subscription.since)
      if (plan.resync !== undefined) {
        frames.push(encode({ type: "resync", reason: plan.resync, seq: stream.seq(), message: plan.resync === "behind" ? `changes after seq ${subscription.since} are no longer buffered; take a new snapshot` : `seq ${subscription.since} is ahead of this stream (${stream.seq()}); take a new snapshot` }))
      } else {
        resumed = true
        const subscriber: Subscriber = subscription
        for (const { seq: at, change } of plan.changes) {
          const gap = gapFrameFor(change, at, subscriber)
          if (gap !== undefined) {
            frames.push(gap)
            replayed++
            continue
          }
          const delivery = deliveryFor(change, subscriber)
          if (delivery === undefined) continue
          frames.push(frameCache(definition, change, at)(delivery))
          replayed++
        }
      }
    }
    const connectionId = crypto.randomUUID()
    const data: SubscriberData = {
      filters: subscription.filters,
      events: subscription.events,
      ...(watermarks === undefined ? {} : { watermarks }),
      ...(options.hub === undefined ? {} : { hub: options.hub }),
    }
    // The layer arms its grant-expiry job for a subscriber whose grant expires (public tables' never do).
    const { server, response } = yield* sockets.accept({
      protocol: DEFAULT_PROTOCOL,
      attachment: {
        connectionId,
        member: `${subscription.actor.type}:${subscription.actor.id}`,
        ...(subscription.expiresAt === null ? {} : { expiresAt: subscription.expiresAt }),
        data,
      },
      ...(subscription.subprotocol ? { subprotocol: DB_SUBPROTOCOL } : {}),
    })
    for (const frame of frames) server.send(frame)
    server.send(
      encode({
        type: "ready",
        connectionId,
        namespace: definition.namespace,
        database: definition.name,
        table: table.name,
        seq: stream.seq(),
        resumed,
        replayed,
        snapshot: subscription.snapshot !== undefined,
        filters: subscription.filters,
        events: subscription.events,
        expiresAt: subscription.expiresAt,
        ...(subscription.expiresAt === null ? {} : { actor: subscription.actorMetadata ?? subscription.actor }),
      }),
    )
    return response
  })

/**
 * The forwarded request's subscription, checked (present, not expired, a WebSocket upgrade), handed
 * to `accept`; every refusal is an HTTP answer, never a 500 for bad input.
 */
export const subscriptionFetch = (request: Request, accept: (subscription: ForwardedSubscription) => Effect.Effect<Response, RealtimeError>): Effect.Effect<Response> =>
  Effect.gen(function* () {
    const raw = request.headers.get(SubscriptionHeader)
    const decoded = raw === null ? undefined : Schema.decodeUnknownEither(Schema.parseJson(ForwardedSubscription))(raw)
    if (decoded === undefined || decoded._tag === "Left") return toResponse(new Unauthorized({ reason: "missing", message: "no verified subscription" }))
    const subscription = decoded.right
    if (subscription.expiresAt !== null && subscription.expiresAt <= (yield* Clock.currentTimeMillis)) {
      return toResponse(new Unauthorized({ reason: "expired", message: "grant expired" }))
    }
    if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
      return toResponse(new InvalidInput({ field: "upgrade", message: "upgrade: expected a WebSocket upgrade" }))
    }
    return yield* Effect.catchAll(accept(subscription), (error) => Effect.succeed(toResponse(error)))
  }).pipe(Effect.catchAllCause((cause) => Effect.succeed(new Response(`durable-realtime: ${String(cause).slice(0, 200)}`, { status: 500 }))))
