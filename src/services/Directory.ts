/**
 * How rooms and channels report their counts to their instance's directory actor.
 *
 * Reports carry absolute counts and a version, never deltas: a report delivered twice, late or out
 * of order cannot skew the totals, so the at-least-once job that sends them is safe.
 *
 * @since 0.1.0
 */
import { Context, Effect, Schema } from "effect"
import type { RealtimeError } from "../RealtimeError.js"

export const DirectoryEntry = Schema.Struct({
  /** `tableHub`: a database's change-stream hub, reported to its database's own directory (never counted in stats). */
  kind: Schema.Literal("room", "channel", "crdtRoom", "tableHub"),
  id: Schema.String,
  messages: Schema.Number,
  members: Schema.Number,
  connections: Schema.Number,
  destroyed: Schema.Boolean,
  version: Schema.Number,
})
export type DirectoryEntry = typeof DirectoryEntry.Type

export class DirectoryClient extends Context.Tag("durable-realtime/DirectoryClient")<
  DirectoryClient,
  { readonly report: (entry: DirectoryEntry) => Effect.Effect<void, RealtimeError> }
>() {}

/** The job name under which an actor reports to the directory. */
export const DIRECTORY_JOB = "directory"
/** Reports are coalesced over this window: a burst of writes sends one report. */
export const DIRECTORY_REPORT_DELAY_MS = 200
/**
 * A room, channel or CRDT room that keeps changing reports at most this often: its next report
 * waits until this long after the previous one (a change after a quiet spell still goes out within
 * `DIRECTORY_REPORT_DELAY_MS`). Each report is an alarm, a job row and an RPC to the instance's one
 * directory object: at 5 a second per busy room they cost a publish ~10% of its CPU (bench/notes/
 * publish.md) and would make that one object the bottleneck of an instance with many busy rooms.
 */
export const DIRECTORY_REPORT_SPACING_MS = 1_000
