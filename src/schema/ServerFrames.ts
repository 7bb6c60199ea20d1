/**
 * Every frame the server sends on a room, channel or CRDT room JSON connection (socket and SSE),
 * built here from the types of its Schema in `Protocol.ts` (`ServerFrame`), so a frame cannot
 * drift from what clients decode.
 *
 * One encoding per publish: a stored message is JSON text once, assembled from the texts its row
 * already holds (data, metadata and actor are encoded when stored), and that text is what the
 * `message` frame of the fan-out, the SSE event, the socket replay and the publisher's `ack` all
 * carry. The text travels with the message object (`messageJson`), so no one encodes it again.
 *
 * @since 0.1.0
 */
import type { StoredMessage } from "./Message.js"
import type {
  AckFrame,
  CloseFrame,
  DiscontinuityFrame,
  ErrorFrame,
  EventFrame,
  MemberLeaveReason,
  PresenceUpdateFrame,
  ReadyFrame,
  ServerFrame,
} from "./Protocol.js"

/** A frame whose every field is plain JSON: encoded as it is. */
const encode = (frame: ServerFrame): string => JSON.stringify(frame)

// ---------------------------------------------------------------------------------------------
// Stored messages: one JSON text each

/** The JSON text of each stored message this object built or read, beside the object. */
const encodedMessages = new WeakMap<StoredMessage, string>()

/** A stored row's fields: strings as they are, `data`, `metadata` and `actor` as the JSON text stored. */
export interface StoredMessageTexts {
  readonly id: string
  readonly seq: number
  readonly epoch: string
  readonly type: string
  readonly dataJson: string
  readonly metadataJson: string | null
  readonly actorJson: string
  /** An ISO 8601 time (`toISOString`'s form: digits, `-`, `+`, `:`, `.`, `T`, `Z`), spliced without escaping. */
  readonly createdAt: string
  readonly idempotencyKey: string | null
}

/**
 * The JSON text of a stored message, from its row: the same text `JSON.stringify` gives for the
 * decoded message (same keys, same order), without encoding data, metadata or actor again.
 */
export const storedMessageJson = (row: StoredMessageTexts): string =>
  `{"id":${JSON.stringify(row.id)},"seq":${row.seq},"epoch":${JSON.stringify(row.epoch)},"type":${JSON.stringify(row.type)},"data":${row.dataJson}` +
  `${row.metadataJson === null ? "" : `,"metadata":${row.metadataJson}`},"actor":${row.actorJson},"createdAt":"${row.createdAt}"` +
  `${row.idempotencyKey === null ? "" : `,"idempotencyKey":${JSON.stringify(row.idempotencyKey)}`}}`

/** Remember a message's JSON text (its row's), so frames carrying it never encode it again. */
export const withMessageJson = (message: StoredMessage, json: string): StoredMessage => {
  encodedMessages.set(message, json)
  return message
}

/** A stored message as JSON text: the remembered text, else (a message built elsewhere) encoded now. */
export const messageJson = (message: StoredMessage): string => encodedMessages.get(message) ?? JSON.stringify(message)

// ---------------------------------------------------------------------------------------------
// Frames

/** `message`: a stored message, to every subscriber (socket fan-out, SSE, replay). */
export const messageFrame = (message: StoredMessage): string => messageFrameOfJson(messageJson(message))

/** `message` from a stored message's JSON text: the socket publish fast path holds only the text. */
export const messageFrameOfJson = (json: string): string => `{"type":"message","message":${json}}`

/**
 * A publish's `ack` from the stored message's JSON text: the same text `ackFrame` gives for
 * `{ type: "ack", id, message, duplicate }` (same keys, same order).
 */
export const publishAckFrame = (id: string, json: string, duplicate: boolean): string =>
  `{"type":"ack","id":${JSON.stringify(id)},"duplicate":${duplicate},"message":${json}}`

/** `ack` of a frame with an `id`; a publish's carries the stored message's text as it is. */
export const ackFrame = (frame: AckFrame): string => {
  if (frame.message === undefined) return encode(frame)
  const { message, ...rest } = frame
  const head = encode(rest)
  return `${head.slice(0, -1)},"message":${messageJson(message)}}`
}

/** `event`: an ephemeral event (broadcast, `sendTo`, hooks). */
export const eventFrame = (event: EventFrame["event"]): string => encode({ type: "event", event })

/** The JSON text of each actor a socket sends or publishes as (its attachment keeps the object for the socket's life). */
const actorTexts = new WeakMap<EventFrame["event"]["actor"], string>()

/** An actor's JSON text, encoded once per actor object (a socket's actor is one object for the socket's life). */
export const actorJson = (actor: EventFrame["event"]["actor"]): string => {
  let text = actorTexts.get(actor)
  if (text === undefined) actorTexts.set(actor, (text = JSON.stringify(actor)))
  return text
}

/**
 * `event` for a socket's broadcast: the text `eventFrame` gives, assembled around the actor's JSON
 * text, encoded once per actor object instead of once per frame, and without building the frame
 * object (this runs for every broadcast).
 */
export const broadcastEventFrame = (event: Omit<EventFrame["event"], "actor" | "createdAt">, actor: EventFrame["event"]["actor"], createdAt: string): string => {
  // `undefined` data is left out by JSON.stringify: the general encoder handles that.
  if (event.data === undefined) return eventFrame({ ...event, actor, createdAt })
  const metadata = event.metadata === undefined ? undefined : JSON.stringify(event.metadata)
  return broadcastEventFrameOfJson(JSON.stringify(event.type), JSON.stringify(event.data), metadata, actor, createdAt)
}

/**
 * The same `event` frame from the JSON texts of the event's type, data and metadata, for a
 * broadcast read from its text (FrameText.ts), whose data is spliced as it came.
 */
export const broadcastEventFrameOfJson = (
  typeJson: string,
  dataJson: string,
  metadataJson: string | undefined,
  actor: EventFrame["event"]["actor"],
  createdAt: string,
): string =>
  `{"type":"event","event":{"type":${typeJson},"data":${dataJson}${metadataJson === undefined ? "" : `,"metadata":${metadataJson}`},"actor":${actorJson(actor)},"createdAt":${JSON.stringify(createdAt)}}}`

/** `error`: a refused frame (the `id` of the frame it answers, when it had one). */
export const errorFrame = (error: { readonly _tag: string; readonly message: string }, id?: string): string =>
  encode({ type: "error", ...(id === undefined ? {} : { id }), tag: error._tag, message: error.message } satisfies ErrorFrame)

/** `pong` of a ping that had an `id` (the runtime answers the others). */
export const pongFrame = (id: string | undefined): string => encode({ type: "pong", ...(id === undefined ? {} : { id }) })

export const discontinuityFrame = (frame: DiscontinuityFrame): string => encode(frame)

export const presenceFrame = (updates: PresenceUpdateFrame["updates"]): string => encode({ type: "presence", updates })

/** SSE only: the stream ends with the close code a socket would have got. */
export const closeFrame = (code: number, reason: string): string => encode({ type: "close", code, reason } satisfies CloseFrame)

/**
 * `ready`. A room's first members arrive as JSON text (each member's entry is cached: a room filling
 * with N members sends N²/2 entries), spliced in as the frame's last field.
 */
export const readyFrame = (ready: Omit<ReadyFrame, "members">, members?: ReadonlyArray<string>): string => {
  const text = encode(ready)
  return members === undefined ? text : `${text.slice(0, -1)},"members":[${members.join(",")}]}`
}

/** One `left` entry of a `members` frame, from the member's entry already in JSON. */
export const leftEntryText = (memberText: string, reason: MemberLeaveReason): string => `{"member":${memberText},"reason":${JSON.stringify(reason)}}`

/** `members`, from entries already in JSON: `joined` members, `left` `{ member, reason }` entries. */
export const membersFrameText = (joined: ReadonlyArray<string>, left: ReadonlyArray<string>, count: number): string =>
  `{"type":"members","joined":[${joined.join(",")}],"left":[${left.join(",")}],"count":${count}}`
