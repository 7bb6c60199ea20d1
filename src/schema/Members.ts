/**
 * Inputs and results of members and presence (`room.join/leave/presence/members`, `sendTo`).
 * @since 0.1.0
 */
import { Schema } from "effect"
import { Actor, JsonObject, JsonValue } from "./Common.js"
import { MessageType } from "./Message.js"
import { Member } from "./Protocol.js"
import { RoomMetadata } from "./Room.js"

/** `room.join(...)`: `actor` overrides the identity resolved from the request. */
export const JoinInput = Schema.Struct({
  metadata: Schema.optional(JsonObject),
  presence: Schema.optional(JsonObject),
  actor: Schema.optional(Actor),
})
export type JoinInput = typeof JoinInput.Encoded

export const LeaveInput = Schema.Struct({ actor: Schema.optional(Actor) })
export type LeaveInput = typeof LeaveInput.Encoded

/** `room.presence({ presence })`: merged key by key into the member's presence (`null` removes a key). */
export const PresenceInput = Schema.Struct({ presence: JsonObject, actor: Schema.optional(Actor) })
export type PresenceInput = typeof PresenceInput.Encoded

/** What `join` returns: the member, everyone in the room now, and the room's metadata. */
export const JoinResult = Schema.Struct({
  member: Member,
  members: Schema.Array(Member),
  room: RoomMetadata,
  joined: Schema.Boolean,
})
export type JoinResult = typeof JoinResult.Type

export const LeaveResult = Schema.Struct({ left: Schema.Boolean, member: Schema.NullOr(Member) })
export type LeaveResult = typeof LeaveResult.Type

export const MembersResult = Schema.Struct({ members: Schema.Array(Member), count: Schema.Number })
export type MembersResult = typeof MembersResult.Type

/** `sendTo(userId, event)`: an ephemeral event to every connection of one actor id. */
export const SendToInput = Schema.Struct({
  actorId: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(256)),
  event: Schema.Struct({ type: MessageType, data: Schema.optionalWith(JsonValue, { default: () => null }) }),
})
export type SendToInput = typeof SendToInput.Encoded

export const SendToResult = Schema.Struct({ delivered: Schema.Number })
export type SendToResult = typeof SendToResult.Type
