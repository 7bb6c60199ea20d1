/**
 * Room and channel clients over a `LiveConnection`.
 *
 * @example
 * ```ts
 * import { connectRoom } from "durable-realtime/client"
 *
 * const room = connectRoom({ grant: () => fetch("/rooms/project_123/grant").then((r) => r.json()) })
 * room.subscribe((message) => render(message))
 * room.onMembers((members) => renderMembers(members))
 * await room.publish({ type: "chat.message", data: { text: "hi" } })
 * room.presence({ typing: true })
 * ```
 *
 * @since 0.1.0
 */
import type { EventFrame, Member, Position, ServerFrame, StoredMessageEncoded } from "./types.js"
import { LiveConnection, type ConnectionError, type ConnectionOptions, type ConnectionState } from "./Connection.js"
import { applyMemberFrame } from "./MembersView.js"

export interface PublishMessage {
  readonly type: string
  readonly data?: unknown
  readonly metadata?: Record<string, unknown>
  /** Generated when absent, so a retried send is never stored twice. */
  readonly idempotencyKey?: string
}

export interface ChannelClient {
  readonly connection: LiveConnection
  /** Stored messages, in order, each once (also across reconnects). */
  readonly subscribe: (handler: (message: StoredMessageEncoded) => void) => () => void
  /** Ephemeral events (broadcasts, `sendTo`, hooks). */
  readonly onEvent: (handler: (event: EventFrame["event"]) => void) => () => void
  /** Every decoded server frame, for anything else (discontinuity, errors). */
  readonly onFrame: (handler: (frame: ServerFrame) => void) => () => void
  readonly onState: (handler: (state: ConnectionState) => void) => () => void
  readonly onError: (handler: (error: ConnectionError) => void) => () => void
  /** Store and deliver a message; resolves with the stored message once acknowledged. */
  readonly publish: (message: PublishMessage) => Promise<{ readonly message: StoredMessageEncoded; readonly duplicate: boolean }>
  /** Deliver an ephemeral event to the other connections; resolves with the recipient count. */
  readonly broadcast: (event: { readonly type: string; readonly data?: unknown }, options?: { readonly includeSelf?: boolean }) => Promise<number>
  readonly state: () => ConnectionState
  readonly position: () => Position | undefined
  readonly close: () => void
}

export interface RoomClient extends ChannelClient {
  /** Merge into this connection's presence (cursors, typing, selection). Coalesced by the server. */
  readonly presence: (presence: Record<string, unknown>) => void
  /** The members now. */
  readonly members: () => ReadonlyArray<Member>
  /** Called with the whole member list whenever it changes. */
  readonly onMembers: (handler: (members: ReadonlyArray<Member>) => void) => () => void
}

const makeChannelClient = (connection: LiveConnection): ChannelClient => ({
  connection,
  subscribe: (handler) =>
    connection.onFrame((frame) => {
      if (frame.type === "message") handler(frame.message)
    }),
  onEvent: (handler) =>
    connection.onFrame((frame) => {
      if (frame.type === "event") handler(frame.event)
    }),
  onFrame: (handler) => connection.onFrame(handler),
  onState: (handler) => connection.onState(handler),
  onError: (handler) => connection.onError(handler),
  publish: async (message) => {
    const ack = await connection.request({ type: "publish", message: message as never })
    return { message: ack.message!, duplicate: ack.duplicate ?? false }
  },
  broadcast: async (event, options) => {
    const ack = await connection.request({ type: "broadcast", event: event as never, includeSelf: options?.includeSelf ?? false })
    return ack.delivered ?? 0
  },
  state: () => connection.state,
  position: () => connection.position,
  close: () => connection.close(),
})

/** Connect to a channel: a fan-out stream of messages. */
export const connectChannel = (options: ConnectionOptions): ChannelClient => makeChannelClient(new LiveConnection(options))

/** Connect to a room: messages, events, members and presence. */
export const connectRoom = (options: ConnectionOptions): RoomClient => {
  const connection = new LiveConnection(options)
  let members: ReadonlyArray<Member> = []
  const memberListeners = new Set<(members: ReadonlyArray<Member>) => void>()
  connection.onFrame((frame) => {
    const next = applyMemberFrame(members, frame)
    if (next === members) return
    members = next
    for (const listener of memberListeners) listener(members)
  })
  return {
    ...makeChannelClient(connection),
    presence: (presence) => {
      connection.send({ type: "presence", presence: presence as never })
    },
    members: () => members,
    onMembers: (handler) => {
      memberListeners.add(handler)
      return () => memberListeners.delete(handler)
    },
  }
}
