/**
 * Messages, publishing and history paging: shared by rooms and channels.
 * @since 0.1.0
 */
import { Schema } from "effect"
import { Actor, JsonObject, JsonValue } from "./Common.js"

export const MessageType = Schema.String.pipe(
  Schema.minLength(1, { message: () => "must not be empty" }),
  Schema.maxLength(128, { message: () => "must be at most 128 characters" }),
  // Types end up in logs, UIs and SSE `event:` lines, where a newline would forge a field.
  Schema.pattern(/^[^\u0000-\u001f\u007f-\u009f\u2028\u2029]+$/, { message: () => "must not contain control characters" }),
).annotations({ description: "a non-empty string of at most 128 characters" })

export const IdempotencyKey = Schema.String.pipe(
  Schema.minLength(1, { message: () => "must not be empty" }),
  Schema.maxLength(256, { message: () => "must be at most 256 characters" }),
).annotations({ description: "a non-empty string of at most 256 characters" })

/** What `publish` takes. `actor` overrides the identity resolved from the request. */
export const PublishInput = Schema.Struct({
  type: MessageType,
  data: Schema.optionalWith(JsonValue, { default: () => null }),
  metadata: Schema.optional(JsonObject),
  idempotencyKey: Schema.optional(IdempotencyKey),
  actor: Schema.optional(Actor),
}).annotations({ description: "a message: { type, data?, metadata?, idempotencyKey? }" })
export type PublishInput = typeof PublishInput.Encoded

/**
 * What `broadcast` takes: a publish that may be `ephemeral` (delivered live, never stored) and may
 * leave out some connections (`except`, connection ids; the sender's own socket by default).
 */
export const BroadcastInput = Schema.Struct({
  ...PublishInput.fields,
  ephemeral: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  except: Schema.optional(Schema.Array(Schema.String)),
})
export type BroadcastInput = typeof BroadcastInput.Encoded

/** A message as stored and delivered. `epoch` + `seq` is its position in the room's stream. */
export const StoredMessage = Schema.Struct({
  id: Schema.String,
  seq: Schema.Number,
  epoch: Schema.String,
  type: Schema.String,
  data: Schema.Unknown,
  metadata: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Unknown })),
  actor: Actor,
  createdAt: Schema.String,
  idempotencyKey: Schema.optional(Schema.String),
})
export type StoredMessage = typeof StoredMessage.Type

/** The result of a publish: the stored message, `duplicate: true` when the idempotency key was seen. */
export const PublishResult = Schema.Struct({
  message: StoredMessage,
  duplicate: Schema.Boolean,
})
export type PublishResult = typeof PublishResult.Type

/** The result of a broadcast: `message` is absent for ephemeral broadcasts, which are never stored. */
export const BroadcastResult = Schema.Struct({
  message: Schema.NullOr(StoredMessage),
  duplicate: Schema.Boolean,
  delivered: Schema.Number,
})
export type BroadcastResult = typeof BroadcastResult.Type

/**
 * A history query. `direction: "backward"` (the default) pages newest-first; `"forward"` pages
 * oldest-first. `cursor` is the opaque `nextCursor` (or `catchUpCursor`) of an earlier page; with
 * no `direction`, the cursor's own direction is followed.
 */
export const HistoryQuery = Schema.Struct({
  limit: Schema.optionalWith(
    Schema.Number.pipe(
      Schema.int({ message: () => "must be an integer" }),
      Schema.between(1, 1000, { message: () => "must be between 1 and 1000" }),
    ).annotations({ description: "an integer from 1 to 1000" }),
    { default: () => 50 },
  ),
  cursor: Schema.optional(Schema.NullOr(Schema.String.pipe(Schema.maxLength(512)).annotations({ description: "a cursor returned by history()" }))),
  // No default here: without a direction a cursor's own direction is followed, else "backward".
  direction: Schema.optional(Schema.Literal("backward", "forward")),
})
export type HistoryQuery = typeof HistoryQuery.Encoded

/**
 * A page of history. `nextCursor` continues in the page's direction (`null` when nothing more is
 * there yet); `catchUpCursor` is always set: pass it back later to get exactly the messages stored
 * after the newest one this read saw, oldest first (the dashboard reconnect of the documents).
 */
export const HistoryPage = Schema.Struct({
  messages: Schema.Array(StoredMessage),
  nextCursor: Schema.NullOr(Schema.String),
  catchUpCursor: Schema.String,
  epoch: Schema.String,
})
export type HistoryPage = typeof HistoryPage.Type
