/**
 * The instance's server-side hooks (`onJoin`, `onMessage`, `onClose`) as a room or channel runs
 * them: the connection they are about, and the api they may call (reply, broadcast, sendTo,
 * publish). A hook's failure is reported to its connection, never thrown.
 *
 * @since 0.1.0
 */
import { Clock, Effect } from "effect"
import type { LiveConnectionInfo, LiveHookApi } from "../../Config.js"
import type { SocketAttachment } from "../../sockets/Attachment.js"
import type { ConnectionsShape } from "../../sockets/Connections.js"
import { iso, type Messaging } from "../messaging/Messaging.js"
import { errorFrame, eventFrame } from "../../schema/ServerFrames.js"

const SERVER_ACTOR = { type: "service", id: "server" } as const

export const makeLiveHooks = (options: { readonly kind: "room" | "channel"; readonly id: string; readonly messaging: Messaging; readonly connections: ConnectionsShape }) => {
  const { kind, messaging, connections } = options

  const info = (attachment: SocketAttachment): LiveConnectionInfo => ({
    connectionId: attachment.connectionId,
    kind,
    id: options.id,
    actor: attachment.actor ?? { type: "anonymous", id: "anonymous" },
    permissions: attachment.permissions ?? [],
  })

  const api = (attachment: SocketAttachment, reply: (frame: string) => void): Effect.Effect<LiveHookApi> =>
    Effect.map(Clock.currentTimeMillis, (now): LiveHookApi => {
      const frame = (event: { readonly type: string; readonly data?: unknown }) =>
        eventFrame({ type: event.type, data: event.data ?? null, actor: SERVER_ACTOR, createdAt: iso(now) })
      return {
        reply: (event) => reply(frame(event)),
        broadcast: (event, opts) => connections.broadcast(frame(event), opts?.includeSelf ? undefined : new Set([attachment.connectionId])),
        sendTo: (actorId, event) => connections.sendTo(actorId, frame(event)),
        publish: (message) =>
          messaging.deliver({ type: message.type, data: message.data ?? null, metadata: message.metadata, actor: attachment.actor, ephemeral: false }, undefined),
      }
    })

  /** Run a hook; its failure is reported to the connection, never thrown. */
  const run = (effect: Effect.Effect<void, unknown>, report: (frame: string) => void) =>
    Effect.catchAllCause(effect, (cause) =>
      Effect.sync(() => report(errorFrame({ _tag: "HookFailed", message: `hook failed: ${String(cause).slice(0, 200)}` }))),
    )

  return { info, api, run }
}

export type LiveHooks = ReturnType<typeof makeLiveHooks>
