/**
 * Storage of the transport hub's channel memberships, behind a Tag: which socket (connection id,
 * with its user) is in which channel, so memberships survive hibernation and eviction.
 * `transport/Memberships.ts` holds the logic (the in-memory index, dropping rows of sockets that
 * are gone at wake) and speaks only to this service.
 *
 * `layerSqlite` keeps the `transport_channel_members` table the hub always had; `layerMemory` a
 * map. One conformance suite (`test/storage-channel-membership-store.test.ts`) runs the same
 * tests against both.
 *
 * @since 0.2.0
 */
import { Context, Effect, Layer } from "effect"
import type { ConstraintViolation, StorageFailure } from "../RealtimeError.js"
import { Sql, type SqlShape } from "../services/Sql.js"
import { sqliteStore } from "./SqliteStores.js"

export interface Membership {
  readonly channel: string
  readonly connectionId: string
  readonly userId: string
}

export type WriteError = StorageFailure | ConstraintViolation

export interface ChannelMembershipStoreShape {
  /** Every membership (read once at wake). */
  readonly all: Effect.Effect<ReadonlyArray<Membership>, StorageFailure>
  /** Put a connection in a channel; already in it: unchanged (its first user stays). */
  readonly add: (membership: Membership) => Effect.Effect<void, WriteError>
  readonly remove: (channel: string, connectionId: string) => Effect.Effect<void, WriteError>
  /** Take a connection out of every channel. */
  readonly removeConnection: (connectionId: string) => Effect.Effect<void, WriteError>
}

/**
 * The channel memberships of one transport hub.
 *
 * @since 0.2.0
 * @category services
 */
export class ChannelMembershipStore extends Context.Tag("durable-realtime/ChannelMembershipStore")<ChannelMembershipStore, ChannelMembershipStoreShape>() {}

export const membershipMigration = {
  name: "transport_001_channel_members",
  statements: [
    "CREATE TABLE IF NOT EXISTS transport_channel_members (channel TEXT NOT NULL, connection_id TEXT NOT NULL, user_id TEXT NOT NULL, PRIMARY KEY (channel, connection_id))",
    "CREATE INDEX IF NOT EXISTS transport_channel_members_by_connection ON transport_channel_members (connection_id)",
  ],
}

export const makeSqlite = (sql: SqlShape): ChannelMembershipStoreShape => ({
  all: Effect.map(sql.all<{ channel: string; connection_id: string; user_id: string }>("SELECT channel, connection_id, user_id FROM transport_channel_members"), (rows) =>
    rows.map((row) => ({ channel: row.channel, connectionId: row.connection_id, userId: row.user_id })),
  ),
  add: ({ channel, connectionId, userId }) =>
    Effect.asVoid(sql.run("INSERT OR IGNORE INTO transport_channel_members (channel, connection_id, user_id) VALUES (?, ?, ?)", channel, connectionId, userId)),
  remove: (channel, connectionId) => Effect.asVoid(sql.run("DELETE FROM transport_channel_members WHERE channel = ? AND connection_id = ?", channel, connectionId)),
  removeConnection: (connectionId) => Effect.asVoid(sql.run("DELETE FROM transport_channel_members WHERE connection_id = ?", connectionId)),
})

/** Per channel, its connections and their users. */
export const makeMemory = (): ChannelMembershipStoreShape => {
  const channels = new Map<string, Map<string, string>>()
  return {
    all: Effect.sync(() => [...channels].flatMap(([channel, members]) => [...members].map(([connectionId, userId]) => ({ channel, connectionId, userId })))),
    add: ({ channel, connectionId, userId }) =>
      Effect.sync(() => {
        let members = channels.get(channel)
        if (members === undefined) channels.set(channel, (members = new Map()))
        if (!members.has(connectionId)) members.set(connectionId, userId)
      }),
    remove: (channel, connectionId) =>
      Effect.sync(() => {
        const members = channels.get(channel)
        members?.delete(connectionId)
        if (members?.size === 0) channels.delete(channel)
      }),
    removeConnection: (connectionId) =>
      Effect.sync(() => {
        for (const [channel, members] of channels) {
          members.delete(connectionId)
          if (members.size === 0) channels.delete(channel)
        }
      }),
  }
}

/**
 * The SQLite layer, over the hub's `Sql` (the table from `membershipMigration`).
 *
 * @since 0.2.0
 * @category layers
 */
export const layerSqlite: Layer.Layer<ChannelMembershipStore, never, Sql> = Layer.effect(ChannelMembershipStore, Effect.map(Sql, makeSqlite))

/** The store's descriptor for an object kind's list of stores (`SqliteStores.ts`): built beside the others, with no Layer of its own. */
export const sqlite = sqliteStore(ChannelMembershipStore, makeSqlite)

/**
 * A fresh, empty map each time the layer is built.
 *
 * @since 0.2.0
 * @category layers
 */
export const layerMemory: Layer.Layer<ChannelMembershipStore> = Layer.sync(ChannelMembershipStore, makeMemory)
