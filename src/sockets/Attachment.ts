/**
 * The attachment of a hibernatable socket: the small identity serialized on it once at accept
 * (`serializeAttachment`), and the one place that reads it back.
 *
 * Nothing that changes per message is written to it: a quiet socket then costs nothing while its
 * object hibernates. After a wake the runtime hands out new `WebSocket` objects, whose attachments
 * are read (a structured clone) and decoded once, then kept for as long as the socket object lives.
 *
 * @since 0.2.0
 */
import { Schema } from "effect"
import type { Actor } from "../schema/Common.js"
import { memberKey } from "../schema/Protocol.js"

/**
 * The actor a socket was accepted for. Looser than the grant's `Actor` (which checked it at the
 * edge): this only restores what the library itself wrote.
 */
const AttachedActor = Schema.Struct({
  type: Schema.Literal("user", "client", "service", "anonymous"),
  id: Schema.String,
  name: Schema.optional(Schema.String),
})

export const SocketAttachment = Schema.Struct({
  connectionId: Schema.String,
  /** The rate budget's actor key (`memberKey` of the actor): every socket of one actor shares one bucket. */
  member: Schema.optional(Schema.String),
  /** The actor's id, for `sendTo(actorId)`. */
  actorId: Schema.optional(Schema.String),
  actor: Schema.optional(AttachedActor),
  permissions: Schema.optional(Schema.Array(Schema.String)),
  /** Grant expiry, epoch milliseconds: frames after it close the socket, and the expiry job closes it. */
  expiresAt: Schema.optional(Schema.Number),
  /**
   * The socket's protocol when it is not its object's default (JSON frames): its events are routed
   * to that protocol, and the default fan-out (`Connections.broadcast`, `sendTo`) skips it.
   */
  protocol: Schema.optional(Schema.String),
  /** Protocol-specific data (a change stream's filters), decoded by that protocol's own Schema. */
  data: Schema.optional(Schema.Unknown),
})
export type SocketAttachment = typeof SocketAttachment.Type

const decodeAttachment = Schema.decodeUnknownOption(SocketAttachment)

// Keyed by the socket object, so one cache serves every object of the isolate and never outlives a
// socket: every protocol's handlers read the attachment per frame, and each read would otherwise be
// a structured clone.
const attachments = new WeakMap<WebSocket, SocketAttachment | null>()

/** The attachment of a socket, or `null` when it has none this library wrote. */
export const readAttachment = (socket: WebSocket): SocketAttachment | null => {
  const cached = attachments.get(socket)
  if (cached !== undefined) return cached
  let attachment: SocketAttachment | null = null
  try {
    const decoded = decodeAttachment(socket.deserializeAttachment())
    attachment = decoded._tag === "Some" ? decoded.value : null
  } catch {
    attachment = null
  }
  attachments.set(socket, attachment)
  return attachment
}

/** Serialize an accepted socket's attachment (it survives hibernation) and remember it. */
export const writeAttachment = (socket: WebSocket, attachment: SocketAttachment): void => {
  socket.serializeAttachment(attachment)
  attachments.set(socket, attachment)
}

/** The attachment of a socket accepted on a verified grant: a new connection id, the grant's actor, permissions and expiry. */
export const grantAttachment = (grant: { readonly actor: Actor; readonly permissions: ReadonlyArray<string>; readonly expiresAt: number }): SocketAttachment => ({
  connectionId: crypto.randomUUID(),
  member: memberKey(grant.actor),
  actorId: grant.actor.id,
  actor: grant.actor,
  permissions: grant.permissions,
  expiresAt: grant.expiresAt,
})
