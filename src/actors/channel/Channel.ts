/**
 * The channel actor: a fan-out stream with history, for dashboards and feeds.
 * @since 0.1.0
 */
import { Effect } from "effect"
import type { ChannelStats } from "../../schema/Room.js"
import { Connections } from "../../sockets/Connections.js"
import { handler, implement, type Dispatcher } from "../../internal/Operations.js"
import { ActorContext, type ActorBehavior } from "../Actor.js"
import { ChannelOnlyOps, type ChannelOps } from "../Ops.js"
import { makeLive } from "../live/Live.js"
import type { SseStats } from "../live/LiveSse.js"
import { messageLogMigration } from "../messaging/MessageLog.js"
import { anonymousActor } from "../../schema/Common.js"
import { iso, makeMessaging } from "../messaging/Messaging.js"

export const channelMigrations = [messageLogMigration]

export const makeChannel = Effect.gen(function* () {
  const connections = yield* Connections
  const { address } = yield* ActorContext
  const messaging = yield* makeMessaging({ sse: (): SseStats => live.sseStats() })

  const stats = handler(ChannelOnlyOps.stats, () =>
    Effect.gen(function* () {
      const messages = yield* messaging.log.count
      const lastPublished = yield* messaging.log.lastCreatedAt
      return {
        id: address.id,
        instance: address.instance,
        status: messaging.lifecycle.status().status,
        messages,
        lastSeq: messaging.log.lastSeq(),
        subscribers: connections.count(),
        createdAt: iso(messaging.lifecycle.createdAt()),
        lastPublishedAt: lastPublished === null ? null : iso(lastPublished),
      } satisfies ChannelStats
    }),
  )

  const live = yield* makeLive({ kind: "channel", messaging })

  const sendTo = handler(ChannelOnlyOps.sendTo, (input, caller) =>
    Effect.map(live.sendTo(input.actorId, input.event, caller ?? anonymousActor), (delivered) => ({ delivered })),
  )

  return {
    operations: { ...messaging.operations, ...implement(ChannelOnlyOps, { stats, sendTo }) } satisfies Dispatcher<typeof ChannelOps>,
    jobs: { ...messaging.jobs, ...live.jobs },
    fetch: live.fetch,
    ...live.events,
  } satisfies ActorBehavior
})
