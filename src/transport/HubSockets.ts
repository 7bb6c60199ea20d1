/**
 * The socket protocol of the transport hub, plugged into the socket layer (src/sockets/): text
 * messages are either a channel subscription (`{"type":"subscribe","channel":"orders"}`) or the
 * application's own, for its `onMessage` handler; channel `onJoin`/`onLeave` and `onClose` run
 * inside the hub. The layer does the rest as for every socket: the attachment, frame size (1009),
 * the rate budget per connection and per user (error events, then 4009), close codes and the
 * close handshake.
 *
 * @since 0.1.0
 */
import { Effect, Schema } from "effect"
import type { ResolvedConfig } from "../Config.js"
import { CloseCode, InvalidInput, invalidInputFromParseError, type RealtimeError } from "../RealtimeError.js"
import { makeRateBudget } from "../services/RateBudget.js"
import type { SocketAttachment } from "../sockets/Attachment.js"
import { Close, closeSocket, sendFrame } from "../sockets/CloseCodes.js"
import { FrameRefused, type SocketProtocol } from "../sockets/Protocol.js"
import { DEFAULT_PROTOCOL } from "../sockets/Sockets.js"
import { currentHub, type LocalHub } from "./Ambient.js"
import type { Declared, TransportSocket } from "./Declarations.js"
import { errorEventFrame, subscriptionFrame } from "./Frames.js"
import type { Memberships } from "./Memberships.js"
import { MAX_CHANNELS_PER_CONNECTION } from "./Memberships.js"
import { ChannelControl } from "./Schema.js"

/** One admitted message: a subscription change, a malformed one (reported, never struck), or the application's. */
type HubFrame =
  | { readonly _tag: "Control"; readonly control: ChannelControl }
  | { readonly _tag: "BadControl"; readonly error: InvalidInput }
  | { readonly _tag: "Application"; readonly text: string }

/** A text message that is a channel subscription, or undefined for an application message. */
const controlOf = (message: string): HubFrame | undefined => {
  if (!message.startsWith("{") || !message.includes("subscribe")) return undefined
  let json: unknown
  try {
    json = JSON.parse(message)
  } catch {
    return undefined
  }
  const type = (json as { type?: unknown } | null)?.type
  if (type !== "subscribe" && type !== "unsubscribe") return undefined
  const decoded = Schema.decodeUnknownEither(ChannelControl)(json)
  return decoded._tag === "Right" ? { _tag: "Control", control: decoded.right } : { _tag: "BadControl", error: invalidInputFromParseError(decoded.left, "message") }
}

export const makeHubSockets = (options: {
  readonly instance: string
  readonly config: ResolvedConfig
  readonly declaration: () => Declared | undefined
  readonly memberships: Memberships
  readonly local: LocalHub
}): SocketProtocol<HubFrame> => {
  const { instance, config, declaration, memberships, local } = options

  const handleOf = (socket: WebSocket, attachment: SocketAttachment): TransportSocket => ({
    id: attachment.connectionId,
    userId: attachment.actorId ?? "",
    user: { id: attachment.actorId ?? "", ...(attachment.actor?.name === undefined ? {} : { name: attachment.actor.name }) },
    send: (message) => {
      socket.send(message)
    },
    close: (code = CloseCode.normal, reason = "") => closeSocket(socket, { code, reason }),
  })

  /** Run an application handler inside this hub (so its realtime calls fan out locally); a failure is logged and reported to the socket. */
  const runHandler = (what: string, socket: WebSocket | undefined, body: () => unknown) =>
    Effect.tryPromise({ try: () => currentHub.run(local, async () => body()), catch: (cause) => cause }).pipe(
      Effect.as(true),
      Effect.catchAll((cause) =>
        Effect.zipRight(
          Effect.logError(`durable-realtime transport: ${what} failed`, cause),
          Effect.sync(() => {
            if (socket !== undefined) sendFrame(socket, errorEventFrame({ _tag: "HandlerFailed", message: `${what} failed` }))
            return false
          }),
        ),
      ),
    )

  const subscribe = (socket: WebSocket, attachment: SocketAttachment, control: ChannelControl) =>
    Effect.gen(function* () {
      const channel = control.channel
      const handlers = declaration()?.channels.get(channel)
      const handle = handleOf(socket, attachment)
      const userId = attachment.actorId ?? ""
      if (control.type === "unsubscribe") {
        if (!memberships.has(channel, attachment.connectionId)) return
        yield* memberships.remove(channel, attachment.connectionId)
        if (handlers?.onLeave !== undefined) yield* runHandler(`channel "${channel}" onLeave`, socket, () => handlers.onLeave?.(handle, userId))
        sendFrame(socket, subscriptionFrame("unsubscribed", channel))
        return
      }
      if (handlers === undefined) {
        return yield* new InvalidInput({ field: "channel", message: `channel: "${channel}" is not declared (realtime.channel("${channel}", ...) at module scope)` })
      }
      if (!memberships.has(channel, attachment.connectionId)) {
        if (memberships.channelsOf(attachment.connectionId).length >= MAX_CHANNELS_PER_CONNECTION) {
          return yield* new InvalidInput({ field: "channel", message: `channel: a socket may be in at most ${MAX_CHANNELS_PER_CONNECTION} channels; unsubscribe from one first` })
        }
        yield* memberships.add(channel, attachment.connectionId, userId)
        if (handlers.onJoin !== undefined) {
          const joined = yield* runHandler(`channel "${channel}" onJoin`, socket, () => handlers.onJoin?.(handle, userId))
          // A throwing onJoin refuses the subscription.
          if (!joined) return yield* memberships.remove(channel, attachment.connectionId)
        }
      }
      sendFrame(socket, subscriptionFrame("subscribed", channel))
    })

  const handle = (socket: WebSocket, attachment: SocketAttachment, frame: HubFrame): Effect.Effect<void, RealtimeError> =>
    Effect.gen(function* () {
      const declared = declaration()
      if (declared === undefined) {
        yield* Effect.logError(`durable-realtime transport: "${instance}" is not declared in this isolate; closing the socket`)
        return closeSocket(socket, Close.internal, "transport instance not declared")
      }
      switch (frame._tag) {
        case "BadControl":
          return yield* frame.error
        case "Control":
          return yield* subscribe(socket, attachment, frame.control)
        case "Application": {
          const onMessage = declared.handlers.onMessage
          if (onMessage === undefined) return yield* new InvalidInput({ field: "message", message: "message: this instance declares no onMessage handler" })
          yield* runHandler("onMessage", socket, () => onMessage(handleOf(socket, attachment), frame.text))
          return
        }
      }
    })

  const closed = (socket: WebSocket, attachment: SocketAttachment): Effect.Effect<void> =>
    Effect.gen(function* () {
      const declared = declaration()
      const handle = handleOf(socket, attachment)
      const userId = attachment.actorId ?? ""
      const channels = memberships.channelsOf(attachment.connectionId)
      yield* Effect.either(memberships.removeConnection(attachment.connectionId))
      for (const channel of channels) {
        const onLeave = declared?.channels.get(channel)?.onLeave
        if (onLeave !== undefined) yield* runHandler(`channel "${channel}" onLeave`, undefined, () => onLeave(handle, userId))
      }
      const onClose = declared?.handlers.onClose
      if (onClose !== undefined) yield* runHandler("onClose", undefined, () => onClose(handle))
    })

  return {
    name: DEFAULT_PROTOCOL,
    maxFrameBytes: config.maxFrameBytes,
    budget: makeRateBudget({ connection: config.rateLimit, actor: config.actorRateLimit }),
    // Only binary messages are refused by `decode`, and those close at once: nothing is struck.
    maxStrikes: Number.POSITIVE_INFINITY,
    errorFrame: errorEventFrame,
    decode: (message) =>
      typeof message !== "string"
        ? new FrameRefused(new InvalidInput({ field: "message", message: "message: only text messages are accepted" }), Close.unsupported)
        : (controlOf(message) ?? { _tag: "Application", text: message }),
    handle,
    closed: (socket, attachment) => closed(socket, attachment),
  }
}
