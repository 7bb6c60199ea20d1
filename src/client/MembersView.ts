/**
 * The live member list of a room, kept from `ready`, `members` and `presence` frames.
 * @since 0.1.0
 */
import type { Member, ServerFrame } from "../schema/Protocol.js"

/** Apply one frame to a member list; returns the same array when the frame changes nothing. */
export const applyMemberFrame = (members: ReadonlyArray<Member>, frame: ServerFrame): ReadonlyArray<Member> => {
  switch (frame.type) {
    case "ready":
      return frame.members ?? members
    case "members": {
      // `left` first, then `joined` (a member may be in both: it left and came back); `joined` replaces by id.
      const gone = new Set(frame.left.map((entry) => entry.member.id))
      for (const member of frame.joined) gone.add(member.id)
      if (gone.size === 0) return members
      return [...members.filter((member) => !gone.has(member.id)), ...frame.joined]
    }
    case "presence": {
      const byId = new Map(frame.updates.map((update) => [update.member, update.presence]))
      return members.map((member) => (byId.has(member.id) ? { ...member, presence: byId.get(member.id)! } : member))
    }
    default:
      return members
  }
}
