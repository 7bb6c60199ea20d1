/**
 * The live member list of a room, kept from `ready`, `joined`, `left` and `presence` frames.
 * @since 0.1.0
 */
import type { Member, ServerFrame } from "../schema/Protocol.js"

/** Apply one frame to a member list; returns the same array when the frame changes nothing. */
export const applyMemberFrame = (members: ReadonlyArray<Member>, frame: ServerFrame): ReadonlyArray<Member> => {
  switch (frame.type) {
    case "ready":
      return frame.members ?? members
    case "joined":
      return [...members.filter((member) => member.id !== frame.member.id), frame.member]
    case "left":
      return members.filter((member) => member.id !== frame.member.id)
    case "presence": {
      const byId = new Map(frame.updates.map((update) => [update.member, update.presence]))
      return members.map((member) => (byId.has(member.id) ? { ...member, presence: byId.get(member.id)! } : member))
    }
    default:
      return members
  }
}
