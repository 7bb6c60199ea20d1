/**
 * The wire contract of database change streams, and the messages between shard, hub and Worker.
 *
 * ## Connecting
 * `GET {routePath}?namespace=&database=&table=&filters=<JSON>` as a WebSocket upgrade (default
 * route `/realtime-db`), offering the subprotocol `durable-realtime.realtime.v1` and, for private
 * tables, the grant as `durable-realtime.jwt.<token>` (what `database.realtime.authorize(...)`
 * returns as `protocols`). `filters` is a JSON object of equality filters on the table's declared
 * filter columns; required filters must be present. With a grant, `filters` may be left out (the
 * grant's are used) but never differ from the grant's. Optional: `events=insert,delete` (narrows),
 * `since=<seq>` (resume), `snapshot=true&limit=<n>&cursor=<c>` (rows first).
 *
 * Refused before the socket is accepted, JSON body `{ error: { _tag, ... } }`:
 * 400 `InvalidInput` (malformed or undeclared filters, missing required filter, bad params),
 * 401 `Unauthorized` (private table without a valid grant, a grant for another table),
 * 403 `Forbidden` (filters or events wider than the grant), 404 `NotFound` (no such realtime table).
 *
 * Change frames carry `key` as an object of the key column (`{ "id": "post_1" }`), `shard` as a
 * name (`DB_SHARD_0000`) and `createdAt` as ISO 8601, as the product document writes them.
 *
 * ## Frames (server → client), in order
 * `resync?` or replayed `database.change*` (with `since`), or `database.snapshot` (with `snapshot`),
 * then `ready`, then live `database.change` frames. `seq` is per hub stream (a table, or one
 * partition of its required-filter values): it grows by one per change with no gap; a subscriber
 * whose filters skip a change sees a larger step. Reconnect with `since=<last seq>` to get what was
 * missed from the hub's buffer; when the buffer no longer reaches back that far, a `resync` frame
 * says so and the client should take a new snapshot. A change the shard could not deliver (parked
 * after its delivery attempts) takes its `seq` as a `resync` frame with `reason: "gap"`: take a
 * new snapshot, later changes follow.
 *
 * An update that moves a row out of a subscriber's filters arrives as `event: "delete"` with the
 * last image it was allowed to see as `old`, `new: null` and `scope: "left"`; a row moving into
 * its filters arrives as `event: "insert"` with `scope: "entered"`. The new image of a row that
 * left is never sent. `events` restrictions apply to the delivered event.
 *
 * After a snapshot, resume with the `seq` of the last change received. Changes the snapshot
 * already contained are skipped on the snapshot's connection only; a client that resumes from the
 * `ready` seq before any change arrived may see such a change once more, so apply changes by `key`.
 *
 * `{"type":"ping"}` is answered `{"type":"pong"}` by the runtime without waking the hub. The stream
 * takes no other frame: each gets an `error` frame, and the socket guards are those of room
 * sockets (src/sockets/): five invalid frames close it with 1008, a frame over `maxFrameBytes` with
 * 1009, frames past the rate limit get `LimitExceeded` and then 4009; an expired grant closes 4001.
 *
 * @since 0.1.0
 */
import { Either, Schema } from "effect"
import { InvalidInput } from "../RealtimeError.js"
import { Actor } from "../schema/Common.js"

export const ChangeEventSchema = Schema.Literal("insert", "update", "delete")

/** A filter value: equality on a scalar column. */
export const FilterValue = Schema.Union(Schema.String, Schema.Number, Schema.Boolean, Schema.Null)
export const Filters = Schema.Record({ key: Schema.String, value: FilterValue })
export type Filters = typeof Filters.Type

/** One committed change as the shard sends it to a hub (an outbox row). */
export const ShardChange = Schema.Struct({
  shard: Schema.Number,
  outboxId: Schema.Number,
  table: Schema.String,
  event: ChangeEventSchema,
  old: Schema.NullOr(Schema.Record({ key: Schema.String, value: Schema.Unknown })),
  new: Schema.NullOr(Schema.Record({ key: Schema.String, value: Schema.Unknown })),
  requestId: Schema.String,
  /** Commit time, epoch milliseconds. */
  createdAt: Schema.Number,
  /**
   * A gap marker: this change failed `deliveryAttempts` times and was parked by the shard (images
   * left out). The hub gives it a seq and sends its subscribers a `resync` frame (`reason: "gap"`).
   */
  parked: Schema.optional(Schema.Literal(true)),
})
export type ShardChange = typeof ShardChange.Type

export type PublishChanges = typeof PublishChanges.Type
export const PublishChanges = Schema.Struct({
  changes: Schema.Array(ShardChange),
  /**
   * The last outbox id the shard sent this hub before these, when that send may still be in flight
   * (pipelined drain rounds): the hub refuses the batch unless it applied that id.
   */
  after: Schema.optional(Schema.Number),
})

const EVENTS: ReadonlySet<unknown> = new Set(ChangeEventSchema.literals)
const isImage = (value: unknown) => value === null || (typeof value === "object" && !Array.isArray(value))

/**
 * The hub's check of a shard's `publish` (the trusted hop: the shard decoded every row where it
 * entered and built these changes from its outbox, so the Schema decode is not run again). It
 * checks the shape the hub relies on — numbers that order and dedupe, names, images as objects —
 * and refuses anything else with `InvalidInput`, as the Schema would.
 */
export const checkPublishChanges = (input: unknown): Either.Either<PublishChanges, InvalidInput> => {
  const refuse = (field: string, what: string) => Either.left(new InvalidInput({ field, message: `${field}: ${what}` }))
  if (input === null || typeof input !== "object") return refuse("input", "expected { changes, after? }")
  const { changes, after } = input as { readonly changes?: unknown; readonly after?: unknown }
  if (after !== undefined && typeof after !== "number") return refuse("after", "expected a number")
  if (!Array.isArray(changes)) return refuse("changes", "expected an array")
  for (const [index, change] of changes.entries()) {
    const field = `changes.${index}`
    if (change === null || typeof change !== "object") return refuse(field, "expected a change")
    const c = change as Record<string, unknown>
    if (typeof c.shard !== "number" || typeof c.outboxId !== "number" || typeof c.createdAt !== "number") return refuse(field, "shard, outboxId and createdAt must be numbers")
    if (typeof c.table !== "string" || typeof c.requestId !== "string" || !EVENTS.has(c.event)) return refuse(field, "table, requestId and event must be given")
    if (!isImage(c.old) || !isImage(c.new) || (c.parked !== undefined && c.parked !== true)) return refuse(field, "old and new must be row objects or null")
  }
  return Either.right(input as PublishChanges)
}

/** A hub's answer to `publish`: how many changes it applied and dropped as duplicates, and its stream's seq after them. */
export interface PublishApplied {
  readonly applied: number
  readonly duplicates: number
  readonly seq: number
}

/**
 * The shard's check of a hub's `publish` answer (the trusted hop's other direction: only this
 * library's hub answers it): the value as it is when its three counts are numbers, else
 * `undefined` and the success Schema decodes it (and words what is wrong).
 */
export const publishAppliedAsIs = (value: unknown): PublishApplied | undefined => {
  if (value === null || typeof value !== "object") return undefined
  const { applied, duplicates, seq } = value as Partial<Record<keyof PublishApplied, unknown>>
  return typeof applied === "number" && typeof duplicates === "number" && typeof seq === "number" ? (value as PublishApplied) : undefined
}

/** What the Worker hands the hub with a verified subscription (in a header it always overwrites). */
export const ForwardedSubscription = Schema.Struct({
  table: Schema.String,
  filters: Filters,
  events: Schema.Array(ChangeEventSchema),
  actor: Actor,
  /** The actor as the grant's issuer wrote it (`{ kind, id, tenantId }`), when it carried metadata. */
  actorMetadata: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Unknown })),
  /** Grant expiry, epoch ms; null for public tables. */
  expiresAt: Schema.NullOr(Schema.Number),
  since: Schema.optional(Schema.Number),
  snapshot: Schema.optional(Schema.Struct({ limit: Schema.Number, cursor: Schema.optional(Schema.String) })),
  /** Whether the client offered the change-stream subprotocol (then the server selects it). */
  subprotocol: Schema.Boolean,
})
export type ForwardedSubscription = typeof ForwardedSubscription.Type

export const SubscriptionHeader = "x-durable-realtime-subscription"

const Row = Schema.Record({ key: Schema.String, value: Schema.Unknown })

/** `database.change`: the message shape of the product documents. */
export const DatabaseChangeFrame = Schema.Struct({
  type: Schema.Literal("database.change"),
  seq: Schema.Number,
  namespace: Schema.String,
  database: Schema.String,
  table: Schema.String,
  event: ChangeEventSchema,
  /** The key columns of the row: `{ "id": "post_1" }` (the table's `key` column, default its primary key). */
  key: Row,
  old: Schema.NullOr(Row),
  new: Schema.NullOr(Row),
  /** The shard that committed the change: `DB_SHARD_0000`, `DB_SHARD_0001`, ... */
  shard: Schema.String,
  requestId: Schema.String,
  /** ISO 8601 commit time. */
  createdAt: Schema.String,
  /** Present when an update moved the row into (`entered`) or out of (`left`) this subscriber's filters. */
  scope: Schema.optional(Schema.Literal("entered", "left")),
})
export type DatabaseChangeFrame = typeof DatabaseChangeFrame.Type

export const SnapshotFrame = Schema.Struct({
  type: Schema.Literal("database.snapshot"),
  table: Schema.String,
  rows: Schema.Array(Row),
  nextCursor: Schema.NullOr(Schema.String),
})

export const DbReadyFrame = Schema.Struct({
  type: Schema.Literal("ready"),
  connectionId: Schema.String,
  namespace: Schema.String,
  database: Schema.String,
  table: Schema.String,
  /** The hub stream's current seq: changes after `ready` have larger ones. */
  seq: Schema.Number,
  resumed: Schema.Boolean,
  replayed: Schema.Number,
  snapshot: Schema.Boolean,
  filters: Filters,
  events: Schema.Array(ChangeEventSchema),
  expiresAt: Schema.NullOr(Schema.Number),
  /** Who the grant was issued to, with the actor metadata bound into it (absent for public tables). */
  actor: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Unknown })),
})

export const ResyncFrame = Schema.Struct({
  type: Schema.Literal("resync"),
  /**
   * `behind`: the buffer no longer reaches back to `since`; `ahead`: `since` is past the stream;
   * `gap`: a change could not be delivered (parked after its delivery attempts) and is missing at `seq`.
   */
  reason: Schema.Literal("behind", "ahead", "gap"),
  /** The stream's current seq (for `gap`, the missing change's seq); nothing before it is replayed. */
  seq: Schema.Number,
  message: Schema.String,
})

export const DbErrorFrame = Schema.Struct({ type: Schema.Literal("error"), tag: Schema.String, message: Schema.String })
export const DbPongFrame = Schema.Struct({ type: Schema.Literal("pong") })

export const DbServerFrame = Schema.Union(DatabaseChangeFrame, SnapshotFrame, DbReadyFrame, ResyncFrame, DbErrorFrame, DbPongFrame)
export type DbServerFrame = typeof DbServerFrame.Type

/** What `database.realtime.authorize(...)` returns: `new WebSocket(url, protocols)`. */
export interface DbGrant {
  /** `wss://host/realtime-db?...` (path-only when no origin is known: browsers resolve it against the page). */
  readonly url: string
  /** `["durable-realtime.realtime.v1", "durable-realtime.jwt.<token>"]` */
  readonly protocols: ReadonlyArray<string>
  /** ISO 8601. */
  readonly expiresAt: string
}
