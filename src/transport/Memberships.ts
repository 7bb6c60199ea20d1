/**
 * Which socket is in which channel, in the hub's SQLite (so it survives hibernation and eviction)
 * with an in-memory index rebuilt on wake. Rows of sockets that are gone are dropped on wake.
 * @since 0.1.0
 */
import { Effect } from "effect"
import { Sql } from "../services/Sql.js"

export const membershipMigration = {
  name: "transport_001_channel_members",
  statements: [
    "CREATE TABLE IF NOT EXISTS transport_channel_members (channel TEXT NOT NULL, connection_id TEXT NOT NULL, user_id TEXT NOT NULL, PRIMARY KEY (channel, connection_id))",
    "CREATE INDEX IF NOT EXISTS transport_channel_members_by_connection ON transport_channel_members (connection_id)",
  ],
}

/** Channels one socket may be in at once: bounds the rows and the work of one close. */
export const MAX_CHANNELS_PER_CONNECTION = 64

export const makeMemberships = (liveConnectionIds: ReadonlySet<string>) =>
  Effect.gen(function* () {
    const sql = yield* Sql
    const byChannel = new Map<string, Map<string, string>>()
    const byConnection = new Map<string, Set<string>>()
    const index = (channel: string, connectionId: string, userId: string) => {
      let members = byChannel.get(channel)
      if (members === undefined) byChannel.set(channel, (members = new Map()))
      members.set(connectionId, userId)
      let channels = byConnection.get(connectionId)
      if (channels === undefined) byConnection.set(connectionId, (channels = new Set()))
      channels.add(channel)
    }
    const unindex = (channel: string, connectionId: string) => {
      const members = byChannel.get(channel)
      members?.delete(connectionId)
      if (members?.size === 0) byChannel.delete(channel)
      const channels = byConnection.get(connectionId)
      channels?.delete(channel)
      if (channels?.size === 0) byConnection.delete(connectionId)
    }

    const rows = yield* Effect.orDie(sql.all<{ channel: string; connection_id: string; user_id: string }>("SELECT channel, connection_id, user_id FROM transport_channel_members"))
    for (const row of rows) {
      if (liveConnectionIds.has(row.connection_id)) index(row.channel, row.connection_id, row.user_id)
      else yield* Effect.orDie(sql.run("DELETE FROM transport_channel_members WHERE connection_id = ?", row.connection_id))
    }

    return {
      has: (channel: string, connectionId: string) => byChannel.get(channel)?.has(connectionId) ?? false,
      channelsOf: (connectionId: string): ReadonlyArray<string> => [...(byConnection.get(connectionId) ?? [])],
      members: (channel: string): ReadonlyMap<string, string> => byChannel.get(channel) ?? new Map(),
      counts: (): Record<string, number> => Object.fromEntries([...byChannel].map(([channel, members]) => [channel, members.size])),
      add: (channel: string, connectionId: string, userId: string) =>
        Effect.tap(
          sql.run("INSERT OR IGNORE INTO transport_channel_members (channel, connection_id, user_id) VALUES (?, ?, ?)", channel, connectionId, userId),
          () => Effect.sync(() => index(channel, connectionId, userId)),
        ),
      remove: (channel: string, connectionId: string) =>
        Effect.tap(sql.run("DELETE FROM transport_channel_members WHERE channel = ? AND connection_id = ?", channel, connectionId), () =>
          Effect.sync(() => unindex(channel, connectionId)),
        ),
      removeConnection: (connectionId: string) =>
        Effect.tap(sql.run("DELETE FROM transport_channel_members WHERE connection_id = ?", connectionId), () =>
          Effect.sync(() => {
            for (const channel of byConnection.get(connectionId) ?? []) unindex(channel, connectionId)
          }),
        ),
    }
  })

export type Memberships = Effect.Effect.Success<ReturnType<typeof makeMemberships>>
