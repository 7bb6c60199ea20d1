/**
 * The hub a handler is running in, so `realtime.broadcast(...)`, `sendTo(...)` and
 * `toChannel(...).broadcast(...)`, `close(...)` and `stats()` called from inside `onMessage` / `onJoin` / `onClose` fan out
 * directly instead of calling the hub over RPC: the hub is busy running that very handler (one
 * message at a time), so a call to itself would wait for itself forever.
 *
 * @since 0.1.0
 */
import { AsyncLocalStorage } from "node:async_hooks"
import type { HubStats } from "./Schema.js"

export interface LocalHub {
  /** The instance key this hub serves. */
  readonly key: string
  readonly broadcast: (frame: string) => number
  readonly sendToUser: (userId: string, frame: string) => number
  readonly sendToConnection: (connectionId: string, frame: string) => number
  readonly channelBroadcast: (channel: string, frame: string) => number
  readonly closeConnection: (connectionId: string) => number
  readonly stats: () => HubStats
}

export const currentHub = new AsyncLocalStorage<LocalHub>()

/** The hub of `key` when the caller runs inside one of its handlers. */
export const localHub = (key: string): LocalHub | undefined => {
  const hub = currentHub.getStore()
  return hub !== undefined && hub.key === key ? hub : undefined
}
