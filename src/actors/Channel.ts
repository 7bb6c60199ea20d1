/**
 * The channel actor: a fan-out stream with history, for dashboards and feeds.
 * @since 0.1.0
 */
import { Effect } from "effect"
import type { ChannelStats } from "../schema/Room.js"
import { Connections } from "../services/Connections.js"
import { ActorContext, NoInput, operation, type ActorBehavior } from "./Actor.js"
import { messageLogMigration } from "./MessageLog.js"
import { iso, makeMessaging } from "./Messaging.js"

export const channelMigrations = [messageLogMigration]

export const makeChannel = Effect.gen(function* () {
  const connections = yield* Connections
  const { address } = yield* ActorContext
  const messaging = yield* makeMessaging()

  const stats = operation(NoInput, () =>
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

  return { operations: { ...messaging.operations, stats }, jobs: messaging.jobs } satisfies ActorBehavior
})
