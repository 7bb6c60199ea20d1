/**
 * The room actor: messages, metadata, lifecycle, members and presence, and live connections.
 * @since 0.1.0
 */
import { Clock, Effect } from "effect"
import { anonymousActor } from "../schema/Common.js"
import { JoinInput, LeaveInput, PresenceInput, SendToInput, type JoinResult, type LeaveResult, type MembersResult } from "../schema/Members.js"
import { SetMetadataInput, type RoomMetadata } from "../schema/Room.js"
import { Connections } from "../services/Connections.js"
import { Jobs } from "../services/Jobs.js"
import { Sql } from "../services/Sql.js"
import { ActorContext, NoInput, operation, type ActorBehavior } from "./Actor.js"
import { makeLive } from "./Live.js"
import { makeMembers, membersMigration } from "./Members.js"
import { messageLogMigration } from "./MessageLog.js"
import { iso, makeMessaging } from "./Messaging.js"
import { readMeta, writeMeta } from "./Meta.js"

export const roomMigrations = [
  messageLogMigration,
  {
    name: "snapshots_001",
    statements: [
      `CREATE TABLE IF NOT EXISTS snapshots (
        id TEXT PRIMARY KEY, label TEXT, created_at INTEGER NOT NULL, payload TEXT NOT NULL
      )`,
    ],
  },
  membersMigration,
]

interface MetadataFact {
  readonly metadata: Record<string, unknown>
  readonly updatedAt: number | null
}

export const makeRoom = Effect.gen(function* () {
  const sql = yield* Sql
  const jobs = yield* Jobs
  const connections = yield* Connections
  const { address, config } = yield* ActorContext
  const members = yield* makeMembers({ sql, jobs, connections, config })
  const messaging = yield* makeMessaging({
    members: () => members.count(),
    onDestroy: ({ deleteSnapshots }) =>
      Effect.zipRight(
        members.clear,
        deleteSnapshots
          ? Effect.map(
              Effect.zipLeft(sql.one<{ n: number }>("SELECT COUNT(*) AS n FROM snapshots"), sql.run("DELETE FROM snapshots")),
              (row) => row?.n ?? 0,
            )
          : Effect.succeed(0),
      ),
  })

  let metadata: MetadataFact = (yield* readMeta<MetadataFact>(sql, "metadata")) ?? { metadata: {}, updatedAt: null }

  const view = (): RoomMetadata => ({
    id: address.id,
    instance: address.instance,
    metadata: metadata.metadata,
    updatedAt: metadata.updatedAt === null ? null : iso(metadata.updatedAt),
  })

  const live = yield* makeLive({ kind: "room", messaging, members, metadata: () => metadata.metadata })

  const setMetadata = operation(SetMetadataInput, (input) =>
    Effect.gen(function* () {
      yield* messaging.lifecycle.assertWritable
      const now = yield* Clock.currentTimeMillis
      const next = { metadata: input.metadata, updatedAt: now }
      yield* writeMeta(sql, "metadata", next)
      metadata = next
      yield* messaging.lifecycle.touch(now, true)
      return view()
    }),
  )

  const getMetadata = operation(NoInput, () => Effect.sync(view))

  const join = operation(JoinInput, (input, caller) =>
    Effect.gen(function* () {
      yield* messaging.lifecycle.assertWritable
      const actor = messaging.actorOf(input.actor, caller)
      const { member, joined } = yield* members.join({ actor, metadata: input.metadata, presence: input.presence, via: "http" })
      const now = yield* Clock.currentTimeMillis
      yield* messaging.lifecycle.touch(now, true)
      if (joined) yield* messaging.scheduleReport(now)
      return { member, members: members.list(), room: view(), joined } satisfies JoinResult
    }),
  )

  const leave = operation(LeaveInput, (input, caller) =>
    Effect.gen(function* () {
      const member = yield* members.leave(messaging.actorOf(input.actor, caller))
      if (member !== undefined) yield* messaging.scheduleReport(yield* Clock.currentTimeMillis)
      return { left: member !== undefined, member: member ?? null } satisfies LeaveResult
    }),
  )

  const presence = operation(PresenceInput, (input, caller) =>
    Effect.gen(function* () {
      yield* messaging.lifecycle.assertWritable
      return yield* members.updatePresence(messaging.actorOf(input.actor, caller), input.presence, "http")
    }),
  )

  const list = operation(NoInput, () =>
    Effect.sync(() => {
      const all = members.list()
      return { members: all, count: all.length } satisfies MembersResult
    }),
  )

  const sendTo = operation(SendToInput, (input, caller) =>
    Effect.map(live.sendTo(input.actorId, input.event, caller ?? anonymousActor), (delivered) => ({ delivered })),
  )

  return {
    operations: { ...messaging.operations, setMetadata, getMetadata, join, leave, presence, members: list, sendTo },
    jobs: { ...messaging.jobs, ...members.jobs, ...live.jobs },
    fetch: live.fetch,
    webSocketMessage: live.webSocketMessage,
    webSocketClose: live.webSocketClose,
    webSocketError: live.webSocketError,
  } satisfies ActorBehavior
})
