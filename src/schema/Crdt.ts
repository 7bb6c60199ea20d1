/**
 * Inputs and results of CRDT rooms (Yjs documents) and of room snapshots.
 * @since 0.1.0
 */
import { Schema } from "effect"
import { Actor, JsonObject } from "./Common.js"

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

/** Standard base64 (padded), checked strictly: a stray character is an error, never skipped. */
export const Base64 = Schema.String.pipe(
  Schema.maxLength(16 * 1024 * 1024, { message: () => "is too long" }),
  Schema.filter((value) => BASE64.test(value) || "must be standard padded base64"),
)

/** Who sent an update, so it is not echoed back: a Yjs client id or any caller-chosen label. */
export const OriginId = Schema.Union(
  Schema.String.pipe(Schema.minLength(1), Schema.maxLength(128)),
  Schema.Number.pipe(Schema.int(), Schema.nonNegative()),
)

export const ApplyYjsUpdateInput = Schema.Struct({
  updateBase64: Base64.pipe(Schema.minLength(1, { message: () => "must not be empty" })).annotations({ description: "a Yjs update as non-empty standard base64" }),
  clientId: Schema.optional(OriginId),
  actor: Schema.optional(Actor),
})
export type ApplyYjsUpdateInput = typeof ApplyYjsUpdateInput.Encoded

export const ApplyYjsUpdateResult = Schema.Struct({
  stateVectorBase64: Schema.String,
  /** The update's position in the ordered update stream; for a no-op update, the current last position. */
  seq: Schema.Number,
  /** True when the document already held everything in the update (nothing stored or sent). */
  duplicate: Schema.Boolean,
})
export type ApplyYjsUpdateResult = typeof ApplyYjsUpdateResult.Type

export const SyncYjsInput = Schema.Struct({ stateVectorBase64: Schema.optional(Base64) })
export type SyncYjsInput = typeof SyncYjsInput.Encoded

export const SyncYjsResult = Schema.Struct({ updateBase64: Schema.String, stateVectorBase64: Schema.String, seq: Schema.Number })
export type SyncYjsResult = typeof SyncYjsResult.Type

/** A Yjs awareness client id (a uint32). */
export const AwarenessClientId = Schema.Number.pipe(Schema.int(), Schema.between(0, 0xffffffff))

export const SetAwarenessInput = Schema.Struct({
  clientId: AwarenessClientId,
  /** `null` removes the client, as in the awareness protocol. */
  state: Schema.NullOr(JsonObject),
  /** Who announces it (server code); default: the request's actor. The client id becomes theirs. */
  actor: Schema.optional(Actor),
})
export type SetAwarenessInput = typeof SetAwarenessInput.Encoded

export const AwarenessEntry = Schema.Struct({ clientId: Schema.Number, clock: Schema.Number, state: Schema.Unknown })
export const AwarenessResult = Schema.Struct({ states: Schema.Array(AwarenessEntry) })
export type AwarenessResult = typeof AwarenessResult.Type

export const StreamQuery = Schema.Struct({
  /** Entries after this sequence (exclusive). Default 0: from the start of what is kept. */
  cursor: Schema.optionalWith(Schema.Number.pipe(Schema.int(), Schema.nonNegative()), { default: () => 0 }),
  limit: Schema.optionalWith(Schema.Number.pipe(Schema.int(), Schema.between(1, 1000, { message: () => "must be between 1 and 1000" })), {
    default: () => 100,
  }),
})
export type StreamQuery = typeof StreamQuery.Encoded

export const StreamEntry = Schema.Struct({
  seq: Schema.Number,
  clientId: Schema.NullOr(Schema.String),
  actor: Actor,
  updateBase64: Schema.String,
  createdAt: Schema.String,
})
export type StreamEntry = typeof StreamEntry.Type

export const StreamPage = Schema.Struct({
  entries: Schema.Array(StreamEntry),
  nextCursor: Schema.NullOr(Schema.Number),
  /** Entries up to this sequence were folded into the base state by compaction (0: none). */
  compactedThrough: Schema.Number,
  /** True when `cursor` is older than `compactedThrough`: replay from `syncYjs()` plus these entries. */
  truncated: Schema.Boolean,
  lastSeq: Schema.Number,
})
export type StreamPage = typeof StreamPage.Type

export const CompactResult = Schema.Struct({
  compactedThrough: Schema.Number,
  foldedUpdates: Schema.Number,
  bytesBefore: Schema.Number,
  bytesAfter: Schema.Number,
})
export type CompactResult = typeof CompactResult.Type

export const SnapshotInput = Schema.Struct({ label: Schema.optional(Schema.String.pipe(Schema.maxLength(256))) })
export type SnapshotInput = typeof SnapshotInput.Encoded

export const SnapshotInfo = Schema.Struct({
  id: Schema.String,
  label: Schema.NullOr(Schema.String),
  createdAt: Schema.String,
  /** History position (plain rooms) or update-stream position (CRDT rooms) when taken. */
  epoch: Schema.String,
  seq: Schema.Number,
  /** Bytes of document state held (CRDT rooms). */
  documentBytes: Schema.Number,
})
export type SnapshotInfo = typeof SnapshotInfo.Type

export const SnapshotsResult = Schema.Struct({ snapshots: Schema.Array(SnapshotInfo) })
export type SnapshotsResult = typeof SnapshotsResult.Type

export const RestoreInput = Schema.Struct({ snapshotId: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(64)) })
export type RestoreInput = typeof RestoreInput.Encoded

export const RestoreResult = Schema.Struct({
  snapshot: SnapshotInfo,
  /** The room's history now continues in this epoch. */
  epoch: Schema.String,
  seq: Schema.Number,
  /** Messages after the snapshot that were removed from history (plain rooms). */
  removedMessages: Schema.Number,
})
export type RestoreResult = typeof RestoreResult.Type

/** A CRDT room's document figures (`documentStats()`): for dashboards, tests and benchmarks. */
export const DocumentStats = Schema.Struct({
  stateVectorBase64: Schema.String,
  lastSeq: Schema.Number,
  compactedThrough: Schema.Number,
  logUpdates: Schema.Number,
  storedBytes: Schema.Number,
  encodedBytes: Schema.Number,
  awarenessClients: Schema.Number,
  /** Since the object last woke: update bytes received, bytes and rows written for them. */
  receivedBytes: Schema.Number,
  writtenBytes: Schema.Number,
  writtenRows: Schema.Number,
})
export type DocumentStats = typeof DocumentStats.Type
