/**
 * The JSON frame protocol of room and channel sockets, as a `SocketProtocol` of the socket layer
 * (src/sockets/): decode (text only, JSON depth on the text, parse, `ClientFrame` Schema) and one
 * handler per frame type. The `ClientFrame` Schema is compiled (`CompiledDecoder.ts`) for the
 * frames it accepts; the Schema itself decides (and words) every other one. A `broadcast` or
 * `publish` in the client's own encoding is read from its text in one pass before any of that
 * (`FrameText.ts`: no `JSON.parse`, and its data's text is spliced into the `event` frame or the
 * stored row). Expiry, size, rate budget, strikes and error reporting are the layer's.
 *
 * `handleNow` is the synchronous fast path for hot frames (issue 16): a `broadcast` (nothing
 * stored) or a `publish` (stored by a synchronous SQLite transaction: nothing can suspend) is
 * answered without entering a fiber. Every other frame, and one of those that will be refused,
 * comes back as its ordinary handler, which the host runs in the mailbox.
 *
 * @since 0.1.0
 */
import { Effect, Schema } from "effect"
import type { ResolvedConfig } from "../../Config.js"
import { Forbidden, InvalidInput, invalidInputFromParseError, type RealtimeError } from "../../RealtimeError.js"
import { anonymousActor, type Actor, jsonTextTooDeep, MAX_JSON_DEPTH } from "../../schema/Common.js"
import { decodeClientFrameNow, UNDECIDED } from "../../schema/ClientFrameDecoder.js"
import { ClientFrame, type ClientFrame as ClientFrameType } from "../../schema/Protocol.js"
import type { SocketAttachment } from "../../sockets/Attachment.js"
import { sendFrame } from "../../sockets/CloseCodes.js"
import type { ConnectionsShape } from "../../sockets/Connections.js"
import { FrameRefused, type SocketProtocol } from "../../sockets/Protocol.js"
import { DEFAULT_PROTOCOL, invalidFrame } from "../../sockets/Sockets.js"
import type { RateBudget } from "../../services/RateBudget.js"
import type { LiveHooks } from "./LiveHooks.js"
import type { Members } from "../room/Members.js"
import type { Messaging } from "../messaging/Messaging.js"
import { ackFrame, broadcastEventFrame, broadcastEventFrameOfJson, errorFrame, pongFrame, publishAckFrame } from "../../schema/ServerFrames.js"
import { BroadcastText, PublishText, scanHotFrame } from "../../schema/FrameText.js"
import { isoTime } from "../../internal/IsoTime.js"

/** Bad frames tolerated before the socket is closed with `CloseCode.policy`. */
export const MAX_STRIKES = 5

/** Bracket depth a client frame may have: a JSON value's limit plus the frame's own envelope. */
const MAX_FRAME_DEPTH = MAX_JSON_DEPTH + 3

const decodeClientFrame = Schema.decodeUnknownEither(ClientFrame)

/** A decoded frame: the Schema's value, or a broadcast or publish read from its text (spliced, not re-encoded). */
type LiveFrame = ClientFrameType | BroadcastText | PublishText

const decode = (message: string | ArrayBuffer): LiveFrame | FrameRefused => {
  if (typeof message !== "string") return invalidFrame("frame: binary frames are not part of this protocol")
  // The hottest frames as the client writes them, checked on their text in one pass (FrameText.ts);
  // anything that scan does not vouch for is parsed and decoded below, as before.
  const hot = scanHotFrame(message)
  if (hot !== undefined) return hot
  // Nesting is checked on the text, before JSON.parse spends time and stack on it.
  // (A frame shorter than the limit cannot nest past it: tiny frames such as pings skip the scan.)
  if (message.length > MAX_FRAME_DEPTH && jsonTextTooDeep(message, MAX_FRAME_DEPTH)) return invalidFrame(`frame: nested deeper than ${MAX_JSON_DEPTH} levels`)
  let json: unknown
  try {
    json = JSON.parse(message)
  } catch {
    return invalidFrame("frame: not JSON")
  }
  // The Schema compiled: what it accepts is the Schema's own result; anything else goes to the Schema.
  const accepted = decodeClientFrameNow(json)
  if (accepted !== UNDECIDED) return accepted
  const decoded = decodeClientFrame(json)
  if (decoded._tag === "Right") return decoded.right
  const id = typeof (json as { id?: unknown })?.id === "string" ? (json as { id: string }).id.slice(0, 128) : undefined
  return new FrameRefused(invalidInputFromParseError(decoded.left, "frame"), undefined, id)
}

export const makeLiveFrames = (options: {
  readonly kind: "room" | "channel"
  readonly messaging: Messaging
  readonly members: Members | undefined
  readonly connections: ConnectionsShape
  readonly config: ResolvedConfig
  readonly hooks: LiveHooks
  /** Shared with HTTP writes: an actor's sockets and its HTTP calls pay one budget. */
  readonly budget: RateBudget
}): SocketProtocol<LiveFrame> => {
  const { kind, messaging, members, connections, config, hooks } = options
  const onMessage = config.hooks.onMessage

  /** One decoded frame from one connection. */
  const handle = (socket: WebSocket, attachment: SocketAttachment, decoded: LiveFrame): Effect.Effect<void, RealtimeError> =>
    Effect.gen(function* () {
      const frame = decoded instanceof BroadcastText || decoded instanceof PublishText ? decoded.decoded() : decoded
      const permissions = attachment.permissions ?? []
      const actor = attachment.actor ?? anonymousActor
      const need = (permission: string) =>
        permissions.includes(permission) ? Effect.void : Effect.fail(new Forbidden({ message: `this grant has no "${permission}" permission` }))
      switch (frame.type) {
        case "publish": {
          yield* need("publish")
          const result = yield* messaging.deliver({ ...frame.message, actor, ephemeral: false }, undefined)
          if (frame.id !== undefined && result.message !== null) {
            sendFrame(socket, ackFrame({ type: "ack", id: frame.id, message: result.message, duplicate: result.duplicate }))
          }
          return
        }
        case "broadcast": {
          yield* need("publish")
          const result = yield* messaging.deliver(
            { ...frame.event, actor, ephemeral: true, except: frame.includeSelf ? undefined : [attachment.connectionId] },
            undefined,
          )
          if (frame.id !== undefined) sendFrame(socket, ackFrame({ type: "ack", id: frame.id, delivered: result.delivered }))
          return
        }
        case "presence": {
          if (members === undefined) return yield* new InvalidInput({ field: "type", message: "type: channels have no presence" })
          yield* need("presence")
          yield* messaging.lifecycle.assertWritable
          yield* members.updatePresence(actor, frame.presence, "socket")
          if (frame.id !== undefined) sendFrame(socket, ackFrame({ type: "ack", id: frame.id }))
          return
        }
        case "ping":
          sendFrame(socket, pongFrame(frame.id))
          return
        case "send": {
          if (onMessage === undefined) {
            return yield* new InvalidInput({ field: "type", message: `type: this ${kind} has no onMessage hook for "send" frames` })
          }
          const reply = (text: string) => void sendFrame(socket, text)
          yield* hooks.run(onMessage(hooks.info(attachment), frame.event, yield* hooks.api(attachment, reply)), reply)
          if (frame.id !== undefined) sendFrame(socket, ackFrame({ type: "ack", id: frame.id }))
          return
        }
      }
    })

  /**
   * A socket `publish` without a fiber: stored (or recognised as a retry), fanned out, acked, as
   * `handle` does. When the append cannot succeed here (too large, strict key conflict, storage
   * error) nothing has changed and the frame takes the ordinary path whole, which reports it.
   * What is left (marking activity, the directory report, when not already in hand) runs in the
   * mailbox after the ack, so later frames still wait behind it.
   */
  const publishNow = (socket: WebSocket, attachment: SocketAttachment, frame: Extract<ClientFrameType, { readonly type: "publish" }> | PublishText, actor: Actor, now: number) => {
    const message =
      frame instanceof PublishText ? { type: frame.messageType, data: undefined, dataJson: frame.dataJson, idempotencyKey: frame.idempotencyKey } : frame.message
    const done = messaging.deliverNow(message, actor, now)
    if (done === undefined) return handle(socket, attachment, frame)
    if (frame.id !== undefined) sendFrame(socket, publishAckFrame(frame.id, done.messageJson, done.duplicate))
    return done.rest
  }

  const handleNow = (socket: WebSocket, attachment: SocketAttachment, frame: LiveFrame, now: number): Effect.Effect<void, RealtimeError> | undefined => {
    // Anything else, and a frame that will be refused, takes the ordinary path (its errors and all).
    if ((frame.type !== "broadcast" && frame.type !== "publish") || !(attachment.permissions ?? []).includes("publish") || messaging.lifecycle.status().status === "destroyed") {
      return handle(socket, attachment, frame)
    }
    const actor = attachment.actor ?? anonymousActor
    if (frame.type === "publish") return publishNow(socket, attachment, frame, actor, now)
    const text =
      frame instanceof BroadcastText
        ? broadcastEventFrameOfJson(frame.eventTypeJson, frame.dataJson, undefined, actor, isoTime(now))
        : broadcastEventFrame(frame.event, actor, isoTime(now))
    const delivered = connections.broadcast(text, frame.includeSelf ? undefined : attachment.connectionId)
    if (frame.id !== undefined) sendFrame(socket, ackFrame({ type: "ack", id: frame.id, delivered }))
    return undefined
  }

  return {
    name: DEFAULT_PROTOCOL,
    maxFrameBytes: config.maxFrameBytes,
    budget: options.budget,
    maxStrikes: MAX_STRIKES,
    errorFrame,
    decode,
    frameId: (frame) => frame.id,
    handle,
    handleNow,
  }
}
