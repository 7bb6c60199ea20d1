/**
 * The room actor: messages, metadata and lifecycle (members and presence build on it).
 * @since 0.1.0
 */
import { Clock, Effect } from "effect"
import { SetMetadataInput, type RoomMetadata } from "../schema/Room.js"
import { Sql } from "../services/Sql.js"
import { ActorContext, NoInput, operation, type ActorBehavior } from "./Actor.js"
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
]

interface MetadataFact {
  readonly metadata: Record<string, unknown>
  readonly updatedAt: number | null
}

export const makeRoom = Effect.gen(function* () {
  const sql = yield* Sql
  const { address } = yield* ActorContext
  const messaging = yield* makeMessaging({
    onDestroy: ({ deleteSnapshots }) =>
      deleteSnapshots
        ? Effect.map(
            Effect.zipLeft(sql.one<{ n: number }>("SELECT COUNT(*) AS n FROM snapshots"), sql.run("DELETE FROM snapshots")),
            (row) => row?.n ?? 0,
          )
        : Effect.succeed(0),
  })

  let metadata: MetadataFact = (yield* readMeta<MetadataFact>(sql, "metadata")) ?? { metadata: {}, updatedAt: null }

  const view = (): RoomMetadata => ({
    id: address.id,
    instance: address.instance,
    metadata: metadata.metadata,
    updatedAt: metadata.updatedAt === null ? null : iso(metadata.updatedAt),
  })

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

  return {
    operations: { ...messaging.operations, setMetadata, getMetadata },
    jobs: messaging.jobs,
  } satisfies ActorBehavior
})
