/**
 * Room and channel lifecycle, metadata and stats.
 * @since 0.1.0
 */
import { Schema } from "effect"
import { JsonObject } from "./Common.js"

export const SetMetadataInput = Schema.Struct({ metadata: JsonObject })
export type SetMetadataInput = typeof SetMetadataInput.Encoded

export const RoomMetadata = Schema.Struct({
  id: Schema.String,
  instance: Schema.String,
  metadata: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
  updatedAt: Schema.NullOr(Schema.String),
})
export type RoomMetadata = typeof RoomMetadata.Type

export const LifecycleStatus = Schema.Literal("active", "idle", "destroyed")
export type LifecycleStatus = typeof LifecycleStatus.Type

export const RoomState = Schema.Struct({
  id: Schema.String,
  instance: Schema.String,
  status: LifecycleStatus,
  /** When the room entered its current status. */
  since: Schema.String,
  epoch: Schema.String,
  createdAt: Schema.String,
  lastActivityAt: Schema.String,
  lastSeq: Schema.Number,
  connections: Schema.Number,
  /** Open SSE streams and the bytes queued for their readers (each queue is at most `sseBufferBytes`). */
  sse: Schema.optional(Schema.Struct({ streams: Schema.Number, queuedBytes: Schema.Number, largestQueueBytes: Schema.Number })),
})
export type RoomState = typeof RoomState.Type

export const DestroyInput = Schema.Struct({
  deleteHistory: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  deleteSnapshots: Schema.optionalWith(Schema.Boolean, { default: () => false }),
})
export type DestroyInput = typeof DestroyInput.Encoded

export const DestroyResult = Schema.Struct({
  id: Schema.String,
  status: Schema.Literal("destroyed"),
  deletedMessages: Schema.Number,
  deletedSnapshots: Schema.Number,
  closedConnections: Schema.Number,
})
export type DestroyResult = typeof DestroyResult.Type

export const ChannelStats = Schema.Struct({
  id: Schema.String,
  instance: Schema.String,
  status: LifecycleStatus,
  messages: Schema.Number,
  lastSeq: Schema.Number,
  subscribers: Schema.Number,
  createdAt: Schema.String,
  lastPublishedAt: Schema.NullOr(Schema.String),
})
export type ChannelStats = typeof ChannelStats.Type

/** Instance-wide counts, kept by the directory actor. */
export const InstanceStats = Schema.Struct({
  instance: Schema.String,
  rooms: Schema.Number,
  channels: Schema.Number,
  members: Schema.Number,
  messages: Schema.Number,
  connections: Schema.Number,
})
export type InstanceStats = typeof InstanceStats.Type
