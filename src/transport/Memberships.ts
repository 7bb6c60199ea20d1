/**
 * Which socket is in which channel, stored through `ChannelMembershipStore` (the hub's SQLite, so it
 * survives hibernation and eviction) with an in-memory index rebuilt on wake. Rows of sockets that are gone are dropped on wake.
 * @since 0.1.0
 */
import { Effect } from "effect"
import { ChannelMembershipStore } from "../storage/ChannelMembershipStore.js"

export { membershipMigration } from "../storage/ChannelMembershipStore.js"

/** Channels one socket may be in at once: bounds the rows and the work of one close. */
export const MAX_CHANNELS_PER_CONNECTION = 64

export const makeMemberships = (liveConnectionIds: ReadonlySet<string>) =>
  Effect.gen(function* () {
    const store = yield* ChannelMembershipStore
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

    for (const row of yield* Effect.orDie(store.all)) {
      if (liveConnectionIds.has(row.connectionId)) index(row.channel, row.connectionId, row.userId)
      else yield* Effect.orDie(store.removeConnection(row.connectionId))
    }

    return {
      has: (channel: string, connectionId: string) => byChannel.get(channel)?.has(connectionId) ?? false,
      channelsOf: (connectionId: string): ReadonlyArray<string> => [...(byConnection.get(connectionId) ?? [])],
      members: (channel: string): ReadonlyMap<string, string> => byChannel.get(channel) ?? new Map(),
      counts: (): Record<string, number> => Object.fromEntries([...byChannel].map(([channel, members]) => [channel, members.size])),
      add: (channel: string, connectionId: string, userId: string) =>
        Effect.tap(store.add({ channel, connectionId, userId }), () => Effect.sync(() => index(channel, connectionId, userId))),
      remove: (channel: string, connectionId: string) =>
        Effect.tap(store.remove(channel, connectionId), () => Effect.sync(() => unindex(channel, connectionId))),
      removeConnection: (connectionId: string) =>
        Effect.tap(store.removeConnection(connectionId), () =>
          Effect.sync(() => {
            for (const channel of byConnection.get(connectionId) ?? []) unindex(channel, connectionId)
          }),
        ),
    }
  })

export type Memberships = Effect.Effect.Success<ReturnType<typeof makeMemberships>>
