/**
 * The room actor: messages, metadata, lifecycle, members and presence, and live connections.
 * @since 0.1.0
 */
import { Clock, Effect } from "effect"
import type { RealtimeError } from "../../RealtimeError.js"
import { anonymousActor } from "../../schema/Common.js"
import { formatPosition } from "../../schema/Protocol.js"
import { discontinuityFrame } from "../../schema/ServerFrames.js"
import type { JoinResult, LeaveResult, MembersResult } from "../../schema/Members.js"
import type { RoomMetadata } from "../../schema/Room.js"
import { Connections } from "../../sockets/Connections.js"
import { Jobs } from "../../services/Jobs.js"
import { ActorFacts } from "../../storage/ActorFacts.js"
import { MemberStore, membersMigration } from "../../storage/MemberStore.js"
import { SnapshotStore, snapshotsMigration } from "../../storage/SnapshotStore.js"
import { handler, implement, type Dispatcher } from "../../internal/Operations.js"
import { ActorContext, type ActorBehavior } from "../Actor.js"
import { RoomOnlyOps, type RoomOps } from "../Ops.js"
import { blobsMigration } from "../../storage/Blobs.js"
import { makeLive } from "../live/Live.js"
import type { SseStats } from "../live/LiveSse.js"
import { makeMembers, MEMBER_EXPIRY_JOB } from "./Members.js"
import { messageLogMigration } from "../messaging/MessageLog.js"
import { iso, makeMessaging } from "../messaging/Messaging.js"
import { makeSnapshots } from "./Snapshots.js"

export const roomMigrations = [
  messageLogMigration,
  snapshotsMigration,
  membersMigration,
  blobsMigration,
]

/** What a room kind adds to a plain room (CRDT rooms add their document). */
export interface RoomExtension {
  /** The document state a snapshot keeps. */
  readonly captureDocument?: Effect.Effect<Uint8Array>
  /** Bring the document back to a snapshot's state. */
  readonly restoreDocument?: (document: Uint8Array) => Effect.Effect<void, RealtimeError>
  readonly onDestroy?: (input: { readonly deleteHistory: boolean }) => Effect.Effect<void, RealtimeError>
  /** Whether the room holds content besides messages (a document), so it counts as a room. */
  readonly hasContent?: () => boolean
}

interface MetadataFact {
  readonly metadata: Record<string, unknown>
  readonly updatedAt: number | null
}

export const makeRoomWith = (extension: RoomExtension) => Effect.gen(function* () {
  const facts = yield* ActorFacts
  const jobs = yield* Jobs
  const connections = yield* Connections
  const { address, config } = yield* ActorContext
  const members = yield* makeMembers({ store: yield* MemberStore, jobs, connections, config })
  const messaging = yield* makeMessaging({
    members: () => members.count(),
    ...(extension.hasContent === undefined ? {} : { hasContent: extension.hasContent }),
    sse: (): SseStats => live.sseStats(),
    onDestroy: ({ deleteSnapshots, deleteHistory }) =>
      Effect.gen(function* () {
        yield* members.clear
        if (extension.onDestroy !== undefined) yield* extension.onDestroy({ deleteHistory })
        return deleteSnapshots ? yield* snapshots.deleteAll : 0
      }),
  })

  let metadata: MetadataFact = (yield* facts.get<MetadataFact>("metadata")) ?? { metadata: {}, updatedAt: null }

  const view = (): RoomMetadata => ({
    id: address.id,
    instance: address.instance,
    metadata: metadata.metadata,
    updatedAt: metadata.updatedAt === null ? null : iso(metadata.updatedAt),
  })

  const snapshots = makeSnapshots({
    store: yield* SnapshotStore,
    assertWritable: messaging.lifecycle.assertWritable,
    capture: Effect.gen(function* () {
      const document = extension.captureDocument === undefined ? undefined : yield* extension.captureDocument
      return { epoch: messaging.log.epoch(), seq: messaging.log.lastSeq(), metadata: metadata.metadata, ...(document === undefined ? {} : { document }) }
    }),
    restore: (content) =>
      Effect.gen(function* () {
        const before = { epoch: messaging.log.epoch(), seq: messaging.log.lastSeq() }
        const now = yield* Clock.currentTimeMillis
        // Same life of the history: go back to its position. Another life: keep what is there, start a new one.
        const removedMessages =
          content.epoch === before.epoch && content.seq <= before.seq ? yield* messaging.log.truncateAfter(content.seq) : (yield* messaging.log.renewEpoch, 0)
        const next = { metadata: content.metadata, updatedAt: now }
        yield* facts.set("metadata", next)
        metadata = next
        if (content.document !== undefined && extension.restoreDocument !== undefined) yield* extension.restoreDocument(content.document)
        const position = { epoch: messaging.log.epoch(), seq: messaging.log.lastSeq() }
        // Connected clients hold positions of the old life: tell them, rather than let them believe nothing changed.
        connections.broadcast(discontinuityFrame({ type: "discontinuity", reason: "epoch", since: formatPosition(before), ...position }))
        yield* messaging.lifecycle.touch(now, true)
        // Removed messages leave the instance's count.
        yield* messaging.reportIfChanged
        return { removedMessages, ...position }
      }),
  })

  const live = yield* makeLive({ kind: "room", messaging, members, metadata: () => metadata.metadata })

  const setMetadata = handler(RoomOnlyOps.setMetadata, (input) =>
    Effect.gen(function* () {
      yield* messaging.lifecycle.assertWritable
      const now = yield* Clock.currentTimeMillis
      const next = { metadata: input.metadata, updatedAt: now }
      yield* facts.set("metadata", next)
      metadata = next
      yield* messaging.lifecycle.touch(now, true)
      return view()
    }),
  )

  const getMetadata = handler(RoomOnlyOps.getMetadata, () => Effect.sync(view))

  const join = handler(RoomOnlyOps.join, (input, caller) =>
    Effect.gen(function* () {
      yield* messaging.lifecycle.assertWritable
      yield* messaging.chargeCaller(input.actor, caller)
      const actor = messaging.actorOf(input.actor, caller)
      const { member, joined } = yield* members.join({ actor, metadata: input.metadata, presence: input.presence, via: "http" })
      const now = yield* Clock.currentTimeMillis
      yield* messaging.lifecycle.touch(now, true)
      if (joined) yield* messaging.scheduleReport(now)
      return { member, members: members.list(), room: view(), joined } satisfies JoinResult
    }),
  )

  const leave = handler(RoomOnlyOps.leave, (input, caller) =>
    Effect.gen(function* () {
      const member = yield* members.leave(messaging.actorOf(input.actor, caller))
      if (member !== undefined) yield* messaging.scheduleReport(yield* Clock.currentTimeMillis)
      return { left: member !== undefined, member: member ?? null } satisfies LeaveResult
    }),
  )

  const presence = handler(RoomOnlyOps.presence, (input, caller) =>
    Effect.gen(function* () {
      yield* messaging.lifecycle.assertWritable
      yield* messaging.chargeCaller(input.actor, caller)
      const actor = messaging.actorOf(input.actor, caller)
      const joining = !members.has(actor)
      const member = yield* members.updatePresence(actor, input.presence, "http")
      // presence() joins when needed: that member (and so this room) counts in stats().
      if (joining) yield* messaging.scheduleReport(yield* Clock.currentTimeMillis)
      return member
    }),
  )

  const list = handler(RoomOnlyOps.members, () =>
    Effect.sync(() => {
      const all = members.list()
      return { members: all, count: all.length } satisfies MembersResult
    }),
  )

  const sendTo = handler(RoomOnlyOps.sendTo, (input, caller) =>
    Effect.map(live.sendTo(input.actorId, input.event, caller ?? anonymousActor), (delivered) => ({ delivered })),
  )

  const behavior = {
    operations: { ...messaging.operations, ...snapshots.operations, ...implement(RoomOnlyOps, { setMetadata, getMetadata, join, leave, presence, members: list, sendTo }) } satisfies Dispatcher<typeof RoomOps>,
    jobs: {
      ...messaging.jobs,
      ...members.jobs,
      // Members that expired (or orphans of a restart) leave the counts too.
      [MEMBER_EXPIRY_JOB]: Effect.tap(members.jobs[MEMBER_EXPIRY_JOB], () => messaging.reportIfChanged),
      ...live.jobs,
    },
    fetch: live.fetch,
    ...live.events,
  } satisfies ActorBehavior
  return { behavior, messaging }
})

export const makeRoom = Effect.map(makeRoomWith({}), (room) => room.behavior)
