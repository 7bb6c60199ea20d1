/**
 * Members and presence of a room.
 *
 * A member is an actor (user, client or service), one per actor however many connections it has.
 * Members who joined over HTTP/RPC stay until they leave or stop refreshing for `presenceTtlMs`
 * (a durable job removes them, so expiry holds after hibernation and restarts); members who joined
 * over a socket leave when their last socket closes.
 *
 * Presence is ephemeral and cheap: an update merges into memory, marks the member dirty and is
 * fanned out at once when no presence frame went out within the last `presenceIntervalMs`, else by
 * a short durable job at the end of the interval, batching every change of the interval into one
 * frame. The batch is persisted in the same step (one transaction per interval, never a history row,
 * never a socket attachment write), so a room that hibernates wakes with its members' presence.
 *
 * Joins and leaves are announced the same way: one `members` frame per flush carries every join
 * and leave of the interval. Announcing each join to every member at once made filling a room with
 * N members cost N²/2 frames (499,500 for 1,000 members); batched, it costs one frame per member per
 * flush. The flush interval also grows with the audience ({@link FLUSH_MS_PER_CONNECTION}), so
 * announcements to a large room stay a bounded share of the object's one thread.
 *
 * @since 0.1.0
 */
import { Clock, Effect } from "effect"
import type { ResolvedConfig } from "../../Config.js"
import { InvalidInput, PayloadTooLarge, type ConstraintViolation, type StorageFailure } from "../../RealtimeError.js"
import { jsonByteLength, type Actor } from "../../schema/Common.js"
import { memberKey, type Member, type MemberLeaveReason } from "../../schema/Protocol.js"
import type { ConnectionEntry, ConnectionsShape } from "../../sockets/Connections.js"
import { sendFrame } from "../../sockets/CloseCodes.js"
import type { JobsShape } from "../../services/Jobs.js"
import type { MemberStoreShape } from "../../storage/MemberStore.js"
import { iso } from "../messaging/Messaging.js"
import { leftEntryText, membersFrameText, presenceFrame } from "../../schema/ServerFrames.js"
import { memberJson, slimView, type MemberState } from "./MemberJson.js"

export const MEMBER_EXPIRY_JOB = "members-expiry"
export const PRESENCE_FLUSH_JOB = "presence-flush"

/**
 * Each flush sends one frame to every connection, so the interval is at least this many ms per
 * connection (1,000 sockets: one flush a second, ~1,000 frames/s); below 50 connections the
 * configured `presenceIntervalMs` rules.
 */
export const FLUSH_MS_PER_CONNECTION = 1

type Failure = StorageFailure | ConstraintViolation

/** What a join carries (exported: `makeMembers`' inferred type names it, and the package build emits declarations). */
export interface JoinInput {
  readonly actor: Actor
  readonly metadata?: Record<string, unknown> | undefined
  readonly presence?: Record<string, unknown> | undefined
  readonly via: "http" | "socket"
}

/** Merge a partial presence: keys set to `null` are removed. */
export const mergePresence = (current: Record<string, unknown>, partial: Record<string, unknown>): Record<string, unknown> => {
  const next = { ...current }
  for (const [key, value] of Object.entries(partial)) {
    if (value === null) delete next[key]
    else next[key] = value
  }
  return next
}

export { membersFrameText }

export const makeMembers = (options: {
  readonly store: MemberStoreShape
  readonly jobs: JobsShape
  readonly connections: ConnectionsShape
  readonly config: ResolvedConfig
}) =>
  Effect.gen(function* () {
    const { store, jobs, connections, config } = options
    const stored = yield* Effect.orDie(store.loadAll)
    const members = new Map<string, MemberState>()
    for (const member of stored) members.set(member.key, { ...member })
    const dirty = new Set<string>()
    // Joins and leaves not yet announced. A member that left keeps its entry when it rejoins
    // (clients apply `left` before `joined`), so a client that saw it in a `ready` meanwhile stays right.
    // Each pending join carries its place in the order of joins (`joinCount` when it joined).
    const pendingJoined = new Map<string, number>()
    let joinCount = 0
    /** Per member that left: its `{ member, reason }` entry in JSON. */
    const pendingLeft = new Map<string, string>()
    /**
     * Sockets that got the member list since the last flush, with the `joinCount` it was taken at:
     * the list already holds every join up to there, so the flush sends them only the later ones.
     * Filling a room, the joins of an interval otherwise reached each newcomer of that interval
     * twice (in its list and in the next `members` frame): ~12 % of the bytes of a 1,000-member fill.
     */
    const listedAt = new Map<string, number>()
    let lastFlushAt = 0
    let flushScheduled = false
    const flushIntervalMs = () => Math.max(config.presenceIntervalMs, connections.count() * FLUSH_MS_PER_CONNECTION)

    /** Open sockets and streams of one member, leaving out one connection (the one closing). */
    const openConnections = (key: string, excluding?: string): number => {
      let n = 0
      for (const entry of connections.list()) {
        if (entry.attachment?.member === key && entry.id !== excluding && entry.socket.readyState <= 1) n++
      }
      // SSE streams are read-only subscribers, never members.
      return n
    }

    /**
     * Open connections per member. The socket list is cached until a socket closes and only grows
     * in between (an accepted socket is appended), so the counts are kept with the list they were
     * taken from and only the sockets appended since are read: a newcomer's member list costs no
     * pass over every socket (each `readyState` a call into the runtime). A socket that closes is
     * counted until its close event, which drops the cached list.
     */
    let counted: { list: ReadonlyArray<ConnectionEntry>; scanned: number; readonly counts: Map<string, number> } | undefined
    const connectionCounts = (): ReadonlyMap<string, number> => {
      const list = connections.list()
      if (counted === undefined || counted.list !== list || counted.scanned > list.length) counted = { list, scanned: 0, counts: new Map() }
      const { counts } = counted
      for (let index = counted.scanned; index < list.length; index++) {
        const entry = list[index]!
        const key = entry.attachment?.member
        if (key !== undefined && entry.socket.readyState <= 1) counts.set(key, (counts.get(key) ?? 0) + 1)
      }
      counted.scanned = list.length
      return counts
    }

    const view = (member: MemberState, counts?: ReadonlyMap<string, number>): Member => ({
      id: member.key,
      actor: member.actor,
      metadata: member.metadata,
      presence: member.presence,
      via: member.via,
      joinedAt: iso(member.joinedAt),
      lastSeenAt: iso(member.lastSeen),
      expiresAt: member.expiresAt === null ? null : iso(member.expiresAt),
      connections: counts === undefined ? openConnections(member.key) : (counts.get(member.key) ?? 0),
    })

    const save = (member: MemberState) => store.save(member)


    const scheduleExpiry = (at: number) => jobs.ensure(MEMBER_EXPIRY_JOB, at)

    /** A member's presence (after merging) and metadata are each at most `maxPresenceBytes` of JSON. */
    const withinLimit = (field: "presence" | "metadata", value: Record<string, unknown>): Effect.Effect<void, PayloadTooLarge> => {
      const size = jsonByteLength(value)
      return size <= config.maxPresenceBytes
        ? Effect.void
        : Effect.fail(new PayloadTooLarge({ field, size, limit: config.maxPresenceBytes, message: `${field}: ${size} bytes of JSON exceeds the limit of ${config.maxPresenceBytes} bytes (maxPresenceBytes)` }))
    }

    /** Join or refresh a member (stored, announced). Returns its state and whether it is new. */
    const enter = (input: JoinInput): Effect.Effect<{ readonly state: MemberState; readonly joined: boolean }, InvalidInput | PayloadTooLarge | Failure> =>
      Effect.gen(function* () {
        if (input.actor.type === "anonymous") {
          return yield* new InvalidInput({ field: "actor", message: "actor: a member needs an actor (pass actor, or give the instance an identify option)" })
        }
        const now = yield* Clock.currentTimeMillis
        const key = memberKey(input.actor)
        const existing = members.get(key)
        // Sizes are checked on what would be stored, before anything changes.
        const nextPresence = input.presence === undefined ? undefined : mergePresence(existing?.presence ?? {}, input.presence)
        if (nextPresence !== undefined) yield* withinLimit("presence", nextPresence)
        if (input.metadata !== undefined) yield* withinLimit("metadata", input.metadata)
        const expiresAt = input.via === "http" ? now + config.presenceTtlMs : null
        const member: MemberState = existing ?? {
          key,
          actor: input.actor,
          metadata: {},
          presence: {},
          via: input.via,
          joinedAt: now,
          lastSeen: now,
          expiresAt,
        }
        member.actor = input.actor
        if (input.metadata !== undefined) member.metadata = input.metadata
        if (nextPresence !== undefined) member.presence = nextPresence
        member.lastSeen = now
        if (input.via === "http") {
          member.via = "http"
          member.expiresAt = expiresAt
        } else if (existing !== undefined && existing.via === "http") {
          // An HTTP member that also connects keeps its expiry; the expiry job spares open sockets.
        } else {
          member.via = "socket"
          member.expiresAt = null
        }
        yield* save(member)
        members.set(key, member)
        dirty.delete(key)
        if (member.expiresAt !== null) yield* scheduleExpiry(member.expiresAt)
        if (existing === undefined) {
          pendingJoined.set(key, ++joinCount)
          yield* announce
        }
        return { state: member, joined: existing === undefined }
      })

    /** Join or refresh a member. Returns the member and whether it is new. */
    const join = (input: JoinInput): Effect.Effect<{ readonly member: Member; readonly joined: boolean }, InvalidInput | PayloadTooLarge | Failure> =>
      Effect.map(enter(input), ({ state, joined }) => ({ member: view(state), joined }))

    /**
     * `join` for a socket that is being accepted: nothing to answer but the newcomer's member
     * list, so no view of the member (its connection count would be one more pass over every
     * socket, per join).
     */
    const joinSocket = (actor: Actor): Effect.Effect<void, InvalidInput | PayloadTooLarge | Failure> => Effect.asVoid(enter({ actor, via: "socket" }))

    const remove = (key: string, reason: MemberLeaveReason): Effect.Effect<Member | undefined, Failure> =>
      Effect.gen(function* () {
        const member = members.get(key)
        if (member === undefined) return undefined
        yield* store.remove(key)
        members.delete(key)
        dirty.delete(key)
        const result = view(member)
        pendingJoined.delete(key)
        pendingLeft.set(key, leftEntryText(JSON.stringify(slimView(member, result.connections)), reason))
        yield* announce
        return result
      })

    const leave = (actor: Actor) => remove(memberKey(actor), "leave")

    /** Fan out every pending join and leave as one frame, then every pending presence change as one frame (persisted). */
    const flush = Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      lastFlushAt = now
      if (pendingJoined.size > 0 || pendingLeft.size > 0) {
        const counts = connectionCounts()
        const joined: Array<string> = []
        const joinedAt: Array<number> = []
        for (const [key, order] of pendingJoined) {
          const member = members.get(key)
          if (member === undefined) continue
          joined.push(memberJson(member, counts))
          joinedAt.push(order)
        }
        const left = [...pendingLeft.values()]
        pendingJoined.clear()
        pendingLeft.clear()
        connections.broadcast(membersFrameText(joined, left, members.size), listedAt.size === 0 ? undefined : new Set(listedAt.keys()))
        if (listedAt.size > 0) sendToNewcomers(joined, joinedAt, left)
      }
      listedAt.clear()
      if (dirty.size === 0) return
      const batch = [...dirty].map((key) => members.get(key)).filter((member) => member !== undefined)
      dirty.clear()
      yield* store.savePresence(batch)
      connections.broadcast(presenceFrame(batch.map((member) => ({ member: member.key, actor: member.actor, presence: member.presence }))))
    })

    /** The newcomers since the last flush get the joins after their list (and every leave: unknown ones change nothing). */
    const sendToNewcomers = (joined: ReadonlyArray<string>, joinedAt: ReadonlyArray<number>, left: ReadonlyArray<string>) => {
      const frames = new Map<number, string | null>() // first later join -> its frame (null: nothing to send)
      for (const entry of connections.list()) {
        const through = entry.id === undefined ? undefined : listedAt.get(entry.id)
        if (through === undefined) continue
        let first = joinedAt.findIndex((order) => order > through)
        if (first === -1) first = joined.length
        let frame = frames.get(first)
        if (frame === undefined) frames.set(first, (frame = first === joined.length && left.length === 0 ? null : membersFrameText(joined.slice(first), left, members.size)))
        if (frame !== null) sendFrame(entry.socket, frame)
      }
    }

    /**
     * Something is pending: flush now when the last flush is an interval old, else at the end of the
     * interval (a durable job). An overdue flush runs here even while the job waits: under a steady
     * stream of joins the alarm can run late, and announcements must not wait for the stream to stop.
     */
    const announce: Effect.Effect<void, Failure> = Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const interval = flushIntervalMs()
      if (now - lastFlushAt >= interval) return yield* flush
      if (flushScheduled) return
      flushScheduled = true
      yield* jobs.schedule(PRESENCE_FLUSH_JOB, lastFlushAt + interval)
    })

    /** Merge a presence update. Members not yet in the room join (over `via`). */
    const updatePresence = (
      actor: Actor,
      partial: Record<string, unknown>,
      via: "http" | "socket",
    ): Effect.Effect<Member, InvalidInput | PayloadTooLarge | Failure> =>
      Effect.gen(function* () {
        const key = memberKey(actor)
        const member = members.get(key)
        if (member === undefined) return (yield* join({ actor, presence: partial, via })).member
        const now = yield* Clock.currentTimeMillis
        const nextPresence = mergePresence(member.presence, partial)
        yield* withinLimit("presence", nextPresence)
        member.presence = nextPresence
        member.lastSeen = now
        if (via === "http" && member.via === "http") {
          const previous = member.expiresAt
          member.expiresAt = now + config.presenceTtlMs
          if (previous === null) yield* scheduleExpiry(member.expiresAt)
        }
        dirty.add(key)
        yield* announce
        return view(member)
      })

    const flushJob: Effect.Effect<number | null, Failure> = Effect.gen(function* () {
      // An overdue change may have flushed inline since this job was set: keep one frame per interval.
      const due = lastFlushAt + flushIntervalMs()
      if ((yield* Clock.currentTimeMillis) < due && (dirty.size > 0 || pendingJoined.size > 0 || pendingLeft.size > 0)) return due
      flushScheduled = false
      yield* flush
      return null
    })

    /** Remove HTTP members past their expiry (unless a socket of theirs is still open). */
    const expiryJob: Effect.Effect<number | null, Failure> = Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      let next: number | null = null
      for (const member of [...members.values()]) {
        if (member.expiresAt === null) continue
        if (member.expiresAt <= now) {
          if (openConnections(member.key) > 0) {
            member.via = "socket"
            member.expiresAt = null
            yield* save(member)
            continue
          }
          yield* remove(member.key, "expired")
        } else if (next === null || member.expiresAt < next) {
          next = member.expiresAt
        }
      }
      return next
    })

    /** A socket of `actor` closed: the member leaves when it was its last one (and it is not a live HTTP member). */
    const socketClosed = (actor: Actor, connectionId: string) =>
      Effect.gen(function* () {
        const key = memberKey(actor)
        const member = members.get(key)
        if (member === undefined || openConnections(key, connectionId) > 0) return
        const now = yield* Clock.currentTimeMillis
        if (member.expiresAt !== null && member.expiresAt > now && !orphanedAtWake.has(key)) return
        yield* remove(key, "disconnect")
      })

    // Socket members whose sockets are gone without a close event (the object was reset, not
    // hibernated: hibernated sockets are still listed) get the HTTP grace period; a client that
    // reconnects within it keeps its membership, anyone else is removed by the expiry job.
    const orphanDeadline = (yield* Clock.currentTimeMillis) + config.presenceTtlMs
    // A socket that closed while the object hibernated is no longer listed when the close wakes it,
    // so its member looks orphaned; the close event that follows is its real leave.
    const orphanedAtWake = new Set<string>()
    let orphans = 0
    for (const member of members.values()) {
      if (member.via !== "socket" || member.expiresAt !== null || openConnections(member.key) > 0) continue
      member.expiresAt = orphanDeadline
      yield* Effect.orDie(save(member))
      orphanedAtWake.add(member.key)
      orphans++
    }
    if (orphans > 0) yield* Effect.orDie(scheduleExpiry(orphanDeadline))

    const clear = Effect.gen(function* () {
      yield* store.clear
      members.clear()
      dirty.clear()
      pendingJoined.clear()
      pendingLeft.clear()
      listedAt.clear()
    })

    return {
      join,
      joinSocket,
      leave,
      updatePresence,
      socketClosed,
      list: () => {
        const counts = connectionCounts()
        return [...members.values()].map((member) => view(member, counts))
      },
      count: () => members.size,
      /** Every member's JSON (cached per member), for the paged list of the newcomer socket `connectionId`. */
      listJson: (connectionId: string): ReadonlyArray<string> => {
        const counts = connectionCounts()
        // Only while a join or leave waits for the flush: with nothing pending, every join the next frame holds comes
        // after this list, and a room where only reconnects happen keeps no entry per socket.
        if (pendingJoined.size > 0 || pendingLeft.size > 0) listedAt.set(connectionId, joinCount)
        return [...members.values()].map((member) => memberJson(member, counts))
      },
      has: (actor: Actor) => members.has(memberKey(actor)),
      clear,
      jobs: { [MEMBER_EXPIRY_JOB]: expiryJob, [PRESENCE_FLUSH_JOB]: flushJob },
    }
  })

export type Members = Effect.Effect.Success<ReturnType<typeof makeMembers>>
