/**
 * A room member as the room holds it in memory, and the JSON entry sockets get for it.
 *
 * Socket frames (`ready`, `members`, `left` entries) carry slim entries: every field at its usual
 * value is left out (`SlimMember` in schema/Protocol.ts says which, and decoding fills them in).
 * A member's entry is built once and reused while nothing in it changed: a newcomer's member list
 * and every `members` frame carry members that mostly did not change since the last time, and a
 * room filling with N members asks for N²/2 entries.
 *
 * @since 0.2.0
 */
import { memberKey } from "../../schema/Protocol.js"
import type { StoredMember } from "../../storage/MemberStore.js"
import { iso } from "../messaging/Messaging.js"

/** A stored member's fields, writable (the room updates them in place), and its cached JSON. */
export type MemberState = { -readonly [Field in keyof StoredMember]: StoredMember[Field] } & {
  /** The member's JSON as last sent, with what it was built from (see `memberJson`). */
  json?: MemberJson
}

/** A member's JSON and the fields it was built from: equal fields (by identity) mean the text still holds. */
interface MemberJson extends Pick<StoredMember, "actor" | "metadata" | "presence" | "via" | "lastSeen" | "expiresAt"> {
  readonly text: string
  readonly connections: number
}

/** The entry sockets get: fields at their usual value left out. */
export const slimView = (member: MemberState, connectionCount: number): Record<string, unknown> => {
  const slim: Record<string, unknown> = { id: member.key }
  if (member.actor.name !== undefined || memberKey(member.actor) !== member.key) slim.actor = member.actor
  if (Object.keys(member.metadata).length > 0) slim.metadata = member.metadata
  if (Object.keys(member.presence).length > 0) slim.presence = member.presence
  if (member.via !== "socket") slim.via = member.via
  slim.joinedAt = iso(member.joinedAt)
  if (member.lastSeen !== member.joinedAt) slim.lastSeenAt = iso(member.lastSeen)
  if (member.expiresAt !== null) slim.expiresAt = iso(member.expiresAt)
  if (connectionCount !== 1) slim.connections = connectionCount
  return slim
}

/**
 * A member's slim JSON, cached on the member while nothing in it changed. The presence, metadata
 * and actor objects are replaced, never mutated, so identity says "unchanged".
 */
export const memberJson = (member: MemberState, counts: ReadonlyMap<string, number>): string => {
  const connections = counts.get(member.key) ?? 0
  const cached = member.json
  // Field by field, allocating nothing: a newcomer's list asks this of every member.
  if (
    cached !== undefined &&
    cached.actor === member.actor &&
    cached.metadata === member.metadata &&
    cached.presence === member.presence &&
    cached.via === member.via &&
    cached.lastSeen === member.lastSeen &&
    cached.expiresAt === member.expiresAt &&
    cached.connections === connections
  ) {
    return cached.text
  }
  const text = JSON.stringify(slimView(member, connections))
  member.json = {
    text,
    actor: member.actor,
    metadata: member.metadata,
    presence: member.presence,
    via: member.via,
    lastSeen: member.lastSeen,
    expiresAt: member.expiresAt,
    connections,
  }
  return text
}
