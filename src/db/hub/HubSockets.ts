/**
 * The change-stream protocol of a table hub, plugged into the socket layer (src/sockets/): the
 * stream is one-way, so the only client frame is the heartbeat (normally answered by the runtime
 * itself); anything else is refused with an `error` frame. Accept, the attachment, frame size, the
 * rate budget, strikes, close codes and grant expiry are the layer's, as for every socket.
 *
 * A subscriber's filters, events and snapshot watermarks travel in the attachment's `data`,
 * decoded here by their own Schema once per socket object.
 *
 * @since 0.1.0
 */
import { Effect, Option, Schema } from "effect"
import type { ResolvedConfig } from "../../Config.js"
import { InvalidInput, type RealtimeError } from "../../RealtimeError.js"
import { makeRateBudget } from "../../services/RateBudget.js"
import type { SocketAttachment } from "../../sockets/Attachment.js"
import { sendFrame } from "../../sockets/CloseCodes.js"
import { FrameRefused, type SocketProtocol } from "../../sockets/Protocol.js"
import { DEFAULT_PROTOCOL } from "../../sockets/Sockets.js"
import { ForwardedSubscription, type DbServerFrame } from "../Protocol.js"
import type { Subscriber } from "./Changes.js"

/** A change-stream frame, encoded as its Schema (`DbServerFrame`) says. */
export const encodeDbFrame = (frame: DbServerFrame): string => JSON.stringify(frame)

export const PING = '{"type":"ping"}'
export const PONG = encodeDbFrame({ type: "pong" })

/** Bad frames tolerated before the socket is closed with `CloseCode.policy` (as for room sockets). */
export const MAX_STRIKES = 5

/** What a subscriber's socket carries in its attachment's `data`. */
export const SubscriberData = Schema.Struct({
  filters: ForwardedSubscription.fields.filters,
  events: ForwardedSubscription.fields.events,
  watermarks: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Number })),
  /** The partition (hub id) of a stream its shard hosts, where one object holds many streams. */
  hub: Schema.optional(Schema.String),
})
export type SubscriberData = typeof SubscriberData.Type

const decodeSubscriber = Schema.decodeUnknownOption(SubscriberData)
// Keyed by the attachment object, which the layer keeps once per socket object: one decode each.
const subscribers = new WeakMap<SocketAttachment, Subscriber | null>()

/** The subscription of a socket's attachment, or `null` when it holds none this hub wrote. */
export const subscriberOf = (attachment: SocketAttachment | null): Subscriber | null => {
  if (attachment === null) return null
  const cached = subscribers.get(attachment)
  if (cached !== undefined) return cached
  const subscriber = Option.getOrNull(decodeSubscriber(attachment.data))
  subscribers.set(attachment, subscriber)
  return subscriber
}

const refused = () => new FrameRefused(new InvalidInput({ field: "frame", message: "frame: a change stream takes no frames except ping" }))

export const makeHubSockets = (options: { readonly config: ResolvedConfig; readonly closed: Effect.Effect<void> }): SocketProtocol<"ping"> => ({
  name: DEFAULT_PROTOCOL,
  maxFrameBytes: options.config.maxFrameBytes,
  budget: makeRateBudget({ connection: options.config.rateLimit, actor: options.config.actorRateLimit }),
  maxStrikes: MAX_STRIKES,
  errorFrame: (error: RealtimeError | { readonly _tag: string; readonly message: string }) => encodeDbFrame({ type: "error", tag: error._tag, message: error.message }),
  decode: (message) => (typeof message === "string" && message.length < 64 && message.replace(/\s/g, "") === PING ? "ping" : refused()),
  handle: (socket) => Effect.sync(() => void sendFrame(socket, PONG)),
  // Always (a closing socket may still be counted here): the directory job counts again when it runs.
  closed: () => options.closed,
})
