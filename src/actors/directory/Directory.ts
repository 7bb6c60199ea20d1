/**
 * The directory actor: one per instance, it keeps the latest report of every room and channel
 * in SQLite, so `stats()` is right after restarts. A database has one too (named by the database's
 * `namespace/name`), where its table hubs report; hub rows are never counted by `stats()`.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { handler, implement } from "../../internal/Operations.js"
import { Sql } from "../../services/Sql.js"
import { ActorContext, type ActorBehavior } from "../Actor.js"
import { listResources } from "./DirectoryIndex.js"
import { DirectoryOps } from "../Ops.js"
import type { InstanceStats } from "../../schema/Room.js"

export const directoryMigrations = [
  {
    name: "directory_001",
    statements: [
      `CREATE TABLE IF NOT EXISTS entries (
        kind TEXT NOT NULL, id TEXT NOT NULL, messages INTEGER NOT NULL, members INTEGER NOT NULL,
        connections INTEGER NOT NULL, destroyed INTEGER NOT NULL, version INTEGER NOT NULL,
        PRIMARY KEY (kind, id)
      )`,
    ],
  },
]

export const makeDirectory = Effect.gen(function* () {
  const sql = yield* Sql
  const { address } = yield* ActorContext

  const report = handler(DirectoryOps.report, (entry) =>
    Effect.asVoid(
      sql.run(
        `INSERT INTO entries (kind, id, messages, members, connections, destroyed, version) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(kind, id) DO UPDATE SET messages = excluded.messages, members = excluded.members,
           connections = excluded.connections, destroyed = excluded.destroyed, version = excluded.version
         WHERE excluded.version >= entries.version`,
        entry.kind,
        entry.id,
        entry.messages,
        entry.members,
        entry.connections,
        entry.destroyed ? 1 : 0,
        entry.version,
      ),
    ),
  )

  const stats = handler(DirectoryOps.stats, () =>
    Effect.map(
      sql.one<{ rooms: number; channels: number; members: number; messages: number; connections: number }>(
        `SELECT
          COALESCE(SUM(CASE WHEN kind != 'channel' AND destroyed = 0 THEN 1 ELSE 0 END), 0) AS rooms,
          COALESCE(SUM(CASE WHEN kind = 'channel' AND destroyed = 0 THEN 1 ELSE 0 END), 0) AS channels,
          COALESCE(SUM(CASE WHEN destroyed = 0 THEN members ELSE 0 END), 0) AS members,
          COALESCE(SUM(messages), 0) AS messages,
          COALESCE(SUM(CASE WHEN destroyed = 0 THEN connections ELSE 0 END), 0) AS connections
        FROM entries WHERE kind != 'tableHub'`,
      ),
      (row): InstanceStats => ({
        instance: address.instance,
        rooms: row?.rooms ?? 0,
        channels: row?.channels ?? 0,
        members: row?.members ?? 0,
        messages: row?.messages ?? 0,
        connections: row?.connections ?? 0,
      }),
    ),
  )

  // `list`: the paged index of resources (DirectoryIndex.ts).
  return { operations: implement(DirectoryOps, { report, stats, list: listResources(sql) }), jobs: {} } satisfies ActorBehavior
})
