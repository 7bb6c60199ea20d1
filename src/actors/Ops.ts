/**
 * The operations of rooms, channels, CRDT rooms and the directory, declared once (name, payload
 * Schema, success Schema, error union: the whole `RealtimeError` union unless narrower). Actors implement them
 * with `Operations.implement` and the Worker's handles call them with `Operations.client`, so no
 * operation is named as a string at a call site and no result is cast: results are decoded.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import * as Operations from "../internal/Operations.js"
import { ConstraintViolation, InvalidInput, StorageFailure } from "../RealtimeError.js"
import {
  ApplyYjsUpdateInput,
  ApplyYjsUpdateResult,
  AwarenessResult,
  CompactResult,
  DocumentStats,
  RestoreInput,
  RestoreResult,
  SetAwarenessInput,
  SnapshotInfo,
  SnapshotInput,
  SnapshotsResult,
  StreamPage,
  StreamQuery,
  SyncYjsInput,
  SyncYjsResult,
} from "../schema/Crdt.js"
import { JoinInput, JoinResult, LeaveInput, LeaveResult, MembersResult, PresenceInput, SendToInput, SendToResult } from "../schema/Members.js"
import { BroadcastInput, BroadcastResult, HistoryPage, HistoryQuery, PublishInput, PublishResult } from "../schema/Message.js"
import { Member } from "../schema/Protocol.js"
import { ChannelStats, DestroyInput, DestroyResult, InstanceStats, RoomMetadata, RoomState, SetMetadataInput } from "../schema/Room.js"
import { DirectoryEntry } from "../services/Directory.js"
import { ResourceListQuery, ResourcePage } from "../schema/Resources.js"

/** An operation that takes no payload. */
export const NoPayload = Schema.Struct({})

/** What rooms, channels and CRDT rooms all answer (`messaging/Messaging.ts`). */
export const MessagingOps = Operations.group({
  publish: { payload: PublishInput, success: PublishResult },
  broadcast: { payload: BroadcastInput, success: BroadcastResult },
  history: { payload: HistoryQuery, success: HistoryPage },
  state: { payload: NoPayload, success: RoomState },
  destroy: { payload: DestroyInput, success: DestroyResult },
})

/** Snapshots of rooms and CRDT rooms (`room/Snapshots.ts`). */
export const SnapshotOps = Operations.group({
  snapshot: { payload: SnapshotInput, success: SnapshotInfo },
  snapshots: { payload: NoPayload, success: SnapshotsResult },
  restore: { payload: RestoreInput, success: RestoreResult },
})

/** What a room adds: metadata, members and presence, direct sends. */
export const RoomOnlyOps = Operations.group({
  setMetadata: { payload: SetMetadataInput, success: RoomMetadata },
  getMetadata: { payload: NoPayload, success: RoomMetadata },
  join: { payload: JoinInput, success: JoinResult },
  leave: { payload: LeaveInput, success: LeaveResult },
  presence: { payload: PresenceInput, success: Member },
  members: { payload: NoPayload, success: MembersResult },
  sendTo: { payload: SendToInput, success: SendToResult },
})

/** Every operation of a room. */
export const RoomOps = { ...MessagingOps, ...SnapshotOps, ...RoomOnlyOps }

/** What a CRDT room adds to a room: its Yjs document and awareness. */
export const CrdtOnlyOps = Operations.group({
  applyYjsUpdate: { payload: ApplyYjsUpdateInput, success: ApplyYjsUpdateResult },
  syncYjs: { payload: SyncYjsInput, success: SyncYjsResult },
  setAwareness: { payload: SetAwarenessInput, success: AwarenessResult },
  getAwareness: { payload: NoPayload, success: AwarenessResult },
  stream: { payload: StreamQuery, success: StreamPage },
  compact: { payload: NoPayload, success: CompactResult },
  documentStats: { payload: NoPayload, success: DocumentStats },
})

/** Every operation of a CRDT room. */
export const CrdtRoomOps = { ...RoomOps, ...CrdtOnlyOps }

/** What a channel adds to messaging. */
export const ChannelOnlyOps = Operations.group({
  stats: { payload: NoPayload, success: ChannelStats },
  sendTo: { payload: SendToInput, success: SendToResult },
})

/** Every operation of a channel. */
export const ChannelOps = { ...MessagingOps, ...ChannelOnlyOps }

/** The directory of an instance: reports from every room and channel, stats, the paged index. */
export const DirectoryOps = Operations.group({
  report: { payload: DirectoryEntry, success: Schema.Void, error: Schema.Union(ConstraintViolation, StorageFailure) },
  stats: { payload: NoPayload, success: InstanceStats, error: StorageFailure },
  list: { payload: ResourceListQuery, success: ResourcePage, error: Schema.Union(InvalidInput, StorageFailure) },
})
