/**
 * Snapshots of a room: taken by `snapshot({ label })`, listed by `snapshots()`, brought back by
 * `restore({ snapshotId })`, deleted by `destroy({ deleteSnapshots: true })`.
 *
 * What a snapshot holds is the room's business (history position and metadata for every room,
 * plus the document state for CRDT rooms, stored in chunks); this module keeps the records.
 *
 * @since 0.1.0
 */
import { Clock, Effect } from "effect"
import { NotFound, type RealtimeError } from "../../RealtimeError.js"
import type { RestoreResult, SnapshotInfo, SnapshotsResult } from "../../schema/Crdt.js"
import { handler, implement } from "../../internal/Operations.js"
import type { SnapshotRow, SnapshotStoreShape } from "../../storage/SnapshotStore.js"
import { SnapshotOps } from "../Ops.js"
import { iso } from "../messaging/Messaging.js"

/** What a room captures and later restores. */
export interface SnapshotContent {
  readonly epoch: string
  readonly seq: number
  readonly metadata: Record<string, unknown>
  readonly document?: Uint8Array
}

interface Payload {
  readonly epoch: string
  readonly seq: number
  readonly metadata: Record<string, unknown>
  readonly documentBytes: number
}

const info = (row: SnapshotRow): SnapshotInfo => {
  const payload = JSON.parse(row.payload) as Payload
  return { id: row.id, label: row.label, createdAt: iso(row.created_at), epoch: payload.epoch, seq: payload.seq, documentBytes: payload.documentBytes }
}

export const makeSnapshots = (options: {
  readonly store: SnapshotStoreShape
  readonly assertWritable: Effect.Effect<void, RealtimeError>
  readonly capture: Effect.Effect<SnapshotContent, RealtimeError>
  /** Bring the room back to the content; returns how many messages it removed from history. */
  readonly restore: (content: SnapshotContent) => Effect.Effect<{ readonly removedMessages: number; readonly epoch: string; readonly seq: number }, RealtimeError>
}) => {
  const { store } = options

  const snapshot = handler(SnapshotOps.snapshot, (input) =>
    Effect.gen(function* () {
      yield* options.assertWritable
      const content = yield* options.capture
      const now = yield* Clock.currentTimeMillis
      const id = crypto.randomUUID().replaceAll("-", "").slice(0, 16)
      const payload: Payload = { epoch: content.epoch, seq: content.seq, metadata: content.metadata, documentBytes: content.document?.byteLength ?? 0 }
      const row: SnapshotRow = { id, label: input.label ?? null, created_at: now, payload: JSON.stringify(payload) }
      yield* store.insert(row, content.document)
      return info(row)
    }),
  )

  const list = handler(SnapshotOps.snapshots, () =>
    Effect.map(
      store.list,
      (rows): SnapshotsResult => ({ snapshots: rows.map(info) }),
    ),
  )

  const restore = handler(SnapshotOps.restore, (input) =>
    Effect.gen(function* () {
      yield* options.assertWritable
      const row = yield* store.get(input.snapshotId)
      if (row === undefined) return yield* new NotFound({ what: "snapshot", message: `no snapshot ${input.snapshotId}` })
      const payload = JSON.parse(row.payload) as Payload
      const document = payload.documentBytes > 0 ? yield* store.document(row.id) : undefined
      const outcome = yield* options.restore({ epoch: payload.epoch, seq: payload.seq, metadata: payload.metadata, ...(document === undefined ? {} : { document }) })
      return { snapshot: info(row), ...outcome } satisfies RestoreResult
    }),
  )

  /** Delete every snapshot; returns how many there were. */
  const deleteAll = store.deleteAll

  return { operations: implement(SnapshotOps, { snapshot, snapshots: list, restore }), deleteAll }
}
