/**
 * The wire protocol of room and channel connections (WebSocket and Server-Sent Events).
 *
 * One source of truth for the server (`src/actors/`, `src/http/`) and the client (`src/client/`).
 *
 * ## Endpoints (served by `live.handler` / `liveRoutes` in `src/http/`)
 *
 * ```
 * GET  {prefix}/{instance}/rooms/{id}/ws        WebSocket, room (members, presence, messages)
 * GET  {prefix}/{instance}/channels/{id}/ws     WebSocket, channel (messages only)
 * GET  {prefix}/{instance}/rooms/{id}/events    Server-Sent Events, room (read only)
 * GET  {prefix}/{instance}/channels/{id}/events Server-Sent Events, channel (read only)
 * ```
 * `prefix` defaults to `/realtime` ({@link DEFAULT_ROUTE_PREFIX}). Ids are URL-encoded path segments.
 *
 * ## Credentials
 * A grant (a short-lived JWT from `room(id).authorize(...)` / `channel(id).authorize(...)`).
 * - WebSocket: as subprotocols, `Sec-WebSocket-Protocol: durable-realtime.v1, durable-realtime.jwt.<token>`
 *   ({@link SUBPROTOCOL}, {@link TOKEN_PROTOCOL_PREFIX}); the server answers with `durable-realtime.v1`.
 *   The token never appears in a URL, so it is never in an access log.
 * - SSE: `Authorization: Bearer <token>`. (For `EventSource`, which cannot set headers, the
 *   `?access_token=` query parameter is accepted too.)
 * A missing, expired, tampered, wrong-audience, `alg: none` or other-room grant is refused with an
 * HTTP 401 (JSON body `{ error: { _tag: "Unauthorized", reason, message } }`) before any socket is
 * accepted; `maxConnections` reached is an HTTP 503 with `LimitExceeded`.
 *
 * ## Positions and resume
 * Every stored message carries its position `(epoch, seq)` (`message.epoch`, `message.seq`).
 * Positions are written `<epoch>:<seq>` ({@link formatPosition}). A client that reconnects passes
 * its last position as `?since=<epoch>:<seq>` (WebSocket) or `Last-Event-ID: <epoch>:<seq>` (SSE).
 * The server then sends every stored message after it, in order and without duplicates, and only
 * then `ready`. When it cannot (history pruned past that position, the room destroyed, a different
 * epoch because history was deleted or restored), it sends a `discontinuity` frame first, with the
 * reason, and then continues from the current position: never a silent gap.
 *
 * ## Frames
 * JSON text frames, one object each, discriminated by `type`. Client → server: {@link ClientFrame}.
 * Server → client: {@link ServerFrame}. A client frame larger than `maxFrameBytes` is refused
 * before parsing, and so is one nesting JSON deeper than 64 levels (a bracket scan of the text);
 * frames are budgeted in frames and bytes per connection and per actor (`rateLimit`,
 * `actorRateLimit`); a frame that fails its Schema gets an `error` frame (and changes nothing);
 * repeated abuse or exceeding the rate limit repeatedly closes with `CloseCode.policy` /
 * `CloseCode.rateLimited`. Frames carrying an `id` are answered with an `ack` (or an `error`
 * with the same `id`).
 *
 * ## Order on connect
 * `(discontinuity)? message* ready`, then live frames. `ready` is sent only once the connection is
 * part of the fan-out, so nothing published after `ready` can be missed.
 *
 * ## Heartbeat
 * The exact text `{"type":"ping"}` ({@link PING_FRAME}) is answered with `{"type":"pong"}`
 * ({@link PONG_FRAME}) by the runtime itself, without waking a hibernated room. Send it every
 * `heartbeatMs` (told in `ready`); if no `pong` comes within another interval, reconnect. A ping
 * with an `id` is answered by the room with `{"type":"pong","id":...}`. SSE streams receive a
 * `: heartbeat` comment line every `heartbeatMs`.
 *
 * ## SSE encoding
 * Each server frame is one event: `event: <frame.type>`, `data: <frame as JSON>`, and for stored
 * messages `id: <epoch>:<seq>` (the message's position, so `Last-Event-ID` resumes). A bare
 * `Last-Event-ID: <seq>` is read as a sequence in the current epoch.
 *
 * ## Close codes
 * {@link CloseCode} from `RealtimeError.ts`: 4001 grant expired (fetch a new grant and reconnect),
 * 4003 forbidden (do not retry), 4004 destroyed, 4008 too many connections, 4009 rate limited,
 * 4010 SSE reader too slow (reconnect with `Last-Event-ID`), 1008 policy (repeated bad frames),
 * 1009 frame too big.
 *
 * @since 0.1.0
 */
import { ParseResult, Schema } from "effect"
import { CloseCode } from "../RealtimeError.js"
import { Actor, JsonObject, JsonValue } from "./Common.js"
import { IdempotencyKey, MessageType, StoredMessage } from "./Message.js"

export { CloseCode }

/** The protocol subprotocol a client offers and the server selects. */
export const SUBPROTOCOL = "durable-realtime.v1"

/** The subprotocol a CRDT room's y-websocket connection is answered with. */
export const YJS_SUBPROTOCOL = "durable-realtime.yjs.v1"
/** The grant travels as a second subprotocol: `durable-realtime.jwt.<token>`. */
export const TOKEN_PROTOCOL_PREFIX = "durable-realtime.jwt."
/** The path prefix of the live routes. */
export const DEFAULT_ROUTE_PREFIX = "/realtime"
/** The heartbeat frame answered by the runtime's auto-response (exact text). */
export const PING_FRAME = '{"type":"ping"}'
export const PONG_FRAME = '{"type":"pong"}'

/** Permissions a grant may carry for rooms and channels. */
export const LivePermission = Schema.Literal("read", "publish", "presence", "write")
export type LivePermission = typeof LivePermission.Type

/** Request id of a client frame, echoed in its `ack` or `error`. */
export const RequestId = Schema.String.pipe(Schema.minLength(1), Schema.maxLength(128))

// ---------------------------------------------------------------------------------------------
// Positions

/** A position in a room's stream. */
export const Position = Schema.Struct({ epoch: Schema.String, seq: Schema.Number })
export type Position = typeof Position.Type

/** `<epoch>:<seq>`. */
export const formatPosition = (position: Position): string => `${position.epoch}:${position.seq}`

/** Parse `<epoch>:<seq>` (or a bare `<seq>`, epoch unknown). `undefined` when malformed. */
export const parsePosition = (text: string): { readonly epoch: string | undefined; readonly seq: number } | undefined => {
  const match = /^(?:([A-Za-z0-9_-]{1,64}):)?(\d{1,15})$/.exec(text.trim())
  if (match === null) return undefined
  return { epoch: match[1], seq: Number(match[2]) }
}

// ---------------------------------------------------------------------------------------------
// Members and presence

/** A member's presence: a JSON object, merged key by key by partial updates (`null` removes a key). */
export const Presence = JsonObject
export type Presence = Record<string, unknown>

/** `"<actor.type>:<actor.id>"`: one member per actor, however many connections it has. */
export const memberKey = (actor: Actor): string => `${actor.type}:${actor.id}`

/** One member of a room, as the HTTP/RPC API returns it (every field present). */
const FullMember = Schema.Struct({
  /** {@link memberKey} of the actor. */
  id: Schema.String,
  actor: Actor,
  metadata: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
  presence: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
  /** How the member joined: over HTTP/RPC (expires after the presence TTL) or a socket (leaves with its last socket). */
  via: Schema.Literal("http", "socket"),
  joinedAt: Schema.String,
  lastSeenAt: Schema.String,
  /** When an HTTP member expires unless it refreshes; `null` for socket members. */
  expiresAt: Schema.NullOr(Schema.String),
  /** Open connections of this actor. */
  connections: Schema.Number,
})

/**
 * A member as sockets receive it (`ready`, `members`): fields at their usual value are left out,
 * because every member learns of every other one (N²/2 entries to fill a room of N), so each byte
 * of an entry is paid about 500,000 times in a room of 1,000. Left out means: `actor` — parsed
 * from `id` (`"<type>:<id>"`, no `name`); `metadata`, `presence` — `{}`; `via` — `"socket"`;
 * `lastSeenAt` — `joinedAt`; `expiresAt` — `null`; `connections` — `1`. Decoding fills them in,
 * so clients always see whole members; HTTP/RPC results still carry every field.
 */
const SlimMember = Schema.Struct({
  id: Schema.String,
  actor: Schema.optional(Actor),
  metadata: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Unknown })),
  presence: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Unknown })),
  via: Schema.optional(Schema.Literal("http", "socket")),
  joinedAt: Schema.String,
  lastSeenAt: Schema.optional(Schema.String),
  expiresAt: Schema.optional(Schema.NullOr(Schema.String)),
  connections: Schema.optional(Schema.Number),
})

/** The actor a slim member's `id` names (`"<type>:<id>"`), or undefined when `id` is not one. */
const actorOfMemberId = (id: string): Actor | undefined => {
  const colon = id.indexOf(":")
  const type = id.slice(0, colon)
  const actorId = id.slice(colon + 1)
  if (colon < 1 || actorId.length === 0 || actorId.length > 256) return undefined
  return type === "user" || type === "client" || type === "service" ? { type, id: actorId } : undefined
}

/** One member of a room: decodes whole and slim entries alike; encodes whole (see `SlimMember`). */
export const Member = Schema.transformOrFail(SlimMember, Schema.typeSchema(FullMember), {
  strict: true,
  decode: (slim, _options, ast) => {
    const actor = slim.actor ?? actorOfMemberId(slim.id)
    if (actor === undefined) return ParseResult.fail(new ParseResult.Type(ast, slim, `member ${JSON.stringify(slim.id)}: no actor, and the id does not name one`))
    return ParseResult.succeed({
      id: slim.id,
      actor,
      metadata: slim.metadata ?? {},
      presence: slim.presence ?? {},
      via: slim.via ?? "socket",
      joinedAt: slim.joinedAt,
      lastSeenAt: slim.lastSeenAt ?? slim.joinedAt,
      expiresAt: slim.expiresAt ?? null,
      connections: slim.connections ?? 1,
    })
  },
  encode: (member) => ParseResult.succeed({ ...member }),
})
export type Member = typeof Member.Type

// ---------------------------------------------------------------------------------------------
// Client → server

/** Publish a stored message (needs `publish`). Everyone, the sender included, receives the `message` frame. */
export const PublishFrame = Schema.Struct({
  type: Schema.Literal("publish"),
  id: Schema.optional(RequestId),
  message: Schema.Struct({
    type: MessageType,
    data: Schema.optionalWith(JsonValue, { default: () => null }),
    metadata: Schema.optional(JsonObject),
    idempotencyKey: Schema.optional(IdempotencyKey),
  }),
})

/**
 * Send an ephemeral event (needs `publish`): never stored, delivered as an `event` frame to the
 * other connections (`includeSelf: true` to receive it too).
 */
export const BroadcastFrame = Schema.Struct({
  type: Schema.Literal("broadcast"),
  id: Schema.optional(RequestId),
  event: Schema.Struct({
    type: MessageType,
    data: Schema.optionalWith(JsonValue, { default: () => null }),
    metadata: Schema.optional(JsonObject),
  }),
  includeSelf: Schema.optionalWith(Schema.Boolean, { default: () => false }),
})

/** Merge into the sender's presence (rooms only; needs `presence`). Coalesced per interval. */
export const PresenceFrame = Schema.Struct({
  type: Schema.Literal("presence"),
  id: Schema.optional(RequestId),
  presence: JsonObject,
})

/** Ping. Without `id` the runtime answers it (see {@link PING_FRAME}); with `id` the room does. */
export const PingFrame = Schema.Struct({
  type: Schema.Literal("ping"),
  id: Schema.optional(RequestId),
})

/** A custom frame for the instance's `onMessage` hook (validate, transform, reply, publish). */
export const SendFrame = Schema.Struct({
  type: Schema.Literal("send"),
  id: Schema.optional(RequestId),
  event: Schema.Struct({ type: MessageType, data: Schema.optionalWith(JsonValue, { default: () => null }) }),
})

/** Every frame a client may send. */
export const ClientFrame = Schema.Union(PublishFrame, BroadcastFrame, PresenceFrame, PingFrame, SendFrame)
export type ClientFrame = typeof ClientFrame.Type
export type ClientFrameEncoded = typeof ClientFrame.Encoded

// ---------------------------------------------------------------------------------------------
// Server → client

/** The subscription is live: everything after this frame arrives in order. */
export const ReadyFrame = Schema.Struct({
  type: Schema.Literal("ready"),
  connectionId: Schema.String,
  kind: Schema.Literal("room", "channel"),
  id: Schema.String,
  /** The position the client is at now (last message sent to it, or the room's last seq). */
  epoch: Schema.String,
  seq: Schema.Number,
  /** `true` when `?since=` was honoured without a gap. */
  resumed: Schema.Boolean,
  /** How many stored messages were replayed before this frame. */
  replayed: Schema.Number,
  actor: Actor,
  permissions: Schema.Array(LivePermission),
  /** Grant expiry (epoch milliseconds): refresh before it. */
  expiresAt: Schema.Number,
  heartbeatMs: Schema.Number,
  /**
   * Rooms: the first {@link READY_MEMBERS} members now, and the room's metadata. When `memberCount`
   * is larger, the rest follow at once, before any other frame, as `members` frames (`joined` only, up to
   * {@link MEMBERS_PAGE} each).
   */
  members: Schema.optional(Schema.Array(Member)),
  /** Rooms: how many members the room has now. */
  memberCount: Schema.optional(Schema.Number),
  metadata: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Unknown })),
})

/** A stored message; its position is `(message.epoch, message.seq)`. Encoded once per publish. */
export const MessageFrame = Schema.Struct({ type: Schema.Literal("message"), message: StoredMessage })

/** An ephemeral event (broadcast with `ephemeral: true`, `sendTo`, hooks): not in history, no position. */
export const EventFrame = Schema.Struct({
  type: Schema.Literal("event"),
  event: Schema.Struct({
    type: Schema.String,
    data: Schema.Unknown,
    metadata: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Unknown })),
    actor: Actor,
    createdAt: Schema.String,
  }),
})

/** Members a room's `ready` frame carries (a small `ready` however large the room). */
export const READY_MEMBERS = 100
/** Members per `members` frame that follows `ready` with the rest of the list (~200 B each: ≤ ~200 KB a frame). */
export const MEMBERS_PAGE = 1000

/** Why a member left: explicitly, with its last socket, when its presence expired, or the room was destroyed. */
export const MemberLeaveReason = Schema.Literal("leave", "disconnect", "expired", "destroyed")
export type MemberLeaveReason = typeof MemberLeaveReason.Type

/**
 * Membership changes since the last `members` frame, coalesced like presence: at most one frame per
 * flush interval, so filling a room with N members costs O(N) frames per interval, not one frame
 * per join per member (O(N²)). Apply `left` first, then `joined` (a member that left and came back
 * within one interval is in both); `joined` replaces a member the client already has (same `id`).
 */
export const MembersFrame = Schema.Struct({
  type: Schema.Literal("members"),
  joined: Schema.Array(Member),
  left: Schema.Array(Schema.Struct({ member: Member, reason: MemberLeaveReason })),
  /** Members in the room after this frame. */
  count: Schema.Number,
})

/** Presence changes since the last presence frame, coalesced: at most one frame per interval. */
export const PresenceUpdateFrame = Schema.Struct({
  type: Schema.Literal("presence"),
  updates: Schema.Array(
    Schema.Struct({
      /** {@link memberKey}. */
      member: Schema.String,
      actor: Actor,
      /** The member's whole presence after the merge. */
      presence: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
    }),
  ),
})

/** The answer to a client frame that had an `id`. */
export const AckFrame = Schema.Struct({
  type: Schema.Literal("ack"),
  id: RequestId,
  /** The stored message of a `publish`. */
  message: Schema.optional(StoredMessage),
  duplicate: Schema.optional(Schema.Boolean),
  /** Recipients of a `broadcast`. */
  delivered: Schema.optional(Schema.Number),
})

/** A refused frame or a server-side problem; `tag` is the `_tag` of the `RealtimeError`. */
export const ErrorFrame = Schema.Struct({
  type: Schema.Literal("error"),
  /** The `id` of the client frame this answers, when it had one. */
  id: Schema.optional(RequestId),
  tag: Schema.String,
  message: Schema.String,
})

/** Why a resume could not be honoured. */
export const DiscontinuityReason = Schema.Literal(
  /** History no longer holds messages right after `since`. */
  "pruned",
  /** A different epoch: history was deleted or restored since. */
  "epoch",
  /** The room or channel was destroyed. */
  "destroyed",
  /** `since` is ahead of the room (a position this room never had). */
  "ahead",
)
export type DiscontinuityReason = typeof DiscontinuityReason.Type

/** The client missed messages that cannot be replayed: refetch state, then continue from `(epoch, seq)`. */
export const DiscontinuityFrame = Schema.Struct({
  type: Schema.Literal("discontinuity"),
  reason: DiscontinuityReason,
  /** What the client asked for. */
  since: Schema.String,
  /** Where the stream continues from. */
  epoch: Schema.String,
  seq: Schema.Number,
})

export const PongFrame = Schema.Struct({ type: Schema.Literal("pong"), id: Schema.optional(RequestId) })

/**
 * SSE only: the server ends the stream, with the close code a socket would have got
 * (4001 grant expired: fetch a new grant; 4004 destroyed: do not reconnect).
 */
export const CloseFrame = Schema.Struct({ type: Schema.Literal("close"), code: Schema.Number, reason: Schema.String })

/** Every frame the server sends. */
export const ServerFrame = Schema.Union(
  ReadyFrame,
  MessageFrame,
  EventFrame,
  MembersFrame,
  PresenceUpdateFrame,
  AckFrame,
  ErrorFrame,
  DiscontinuityFrame,
  PongFrame,
  CloseFrame,
)
export type ServerFrame = typeof ServerFrame.Type
export type ReadyFrame = typeof ReadyFrame.Type
export type MessageFrame = typeof MessageFrame.Type
export type EventFrame = typeof EventFrame.Type
export type MembersFrame = typeof MembersFrame.Type
export type PresenceUpdateFrame = typeof PresenceUpdateFrame.Type
export type AckFrame = typeof AckFrame.Type
export type ErrorFrame = typeof ErrorFrame.Type
export type DiscontinuityFrame = typeof DiscontinuityFrame.Type
export type CloseFrame = typeof CloseFrame.Type
