/**
 * The frames of the transport API: one encoding per event, shared by sockets and SSE streams.
 *
 * An event is encoded once, as its socket frame `{"event":"...","data":...}`, with its size checked
 * against the instance's limit before it goes anywhere (the Worker checks at the edge, the hub
 * again on arrival). A stream's SSE event is cut from that same text: the data is never encoded
 * (or parsed) a second time.
 *
 * @since 0.1.0
 */
import { Effect, Schema } from "effect"
import { invalidInputFromParseError, PayloadTooLarge, type InvalidInput } from "../RealtimeError.js"
import { sseEventText } from "../sse/SseWriter.js"
import { TransportEvent } from "./Schema.js"

const encoder = new TextEncoder()

const EVENT_PREFIX = '{"event":'
const DATA_KEY = ',"data":'

/** The socket frame of an event: `{"event":"...","data":...}`. Sockets and streams get the same one. */
export const eventFrame = (event: TransportEvent): string => JSON.stringify({ event: event.event, data: event.data ?? null })

/** `{"event":"heartbeat","data":null}`: what sockets get every `heartbeat` ms (streams get a comment). */
export const HEARTBEAT_FRAME = eventFrame({ event: "heartbeat" })

/** A library event to one socket (`error`, `subscribed`, `unsubscribed`). */
export const errorEventFrame = (error: { readonly _tag: string; readonly message: string }) => eventFrame({ event: "error", data: { tag: error._tag, message: error.message } })
export const subscriptionFrame = (event: "subscribed" | "unsubscribed", channel: string) => eventFrame({ event, data: { channel } })

/**
 * The SSE bytes of a socket frame made by `eventFrame`: `event: <name>` and `data: <data JSON>`,
 * both cut from the frame. Inside the event name's JSON string every `"` is escaped, so the first
 * `,"data":` after it is where the data starts.
 */
export const sseBytesOfFrame = (frame: string): Uint8Array => {
  const at = frame.indexOf(DATA_KEY, EVENT_PREFIX.length)
  const name = JSON.parse(frame.slice(EVENT_PREFIX.length, at)) as string
  return encoder.encode(sseEventText(name, frame.slice(at + DATA_KEY.length, -1)))
}

/** Decode an application's `{ event, data }` and encode its frame, refusing one over `limit` bytes. */
export const prepareEvent = (raw: unknown, limit: number): Effect.Effect<{ readonly event: TransportEvent; readonly frame: string }, InvalidInput | PayloadTooLarge> =>
  Effect.gen(function* () {
    const event = yield* Effect.mapError(Schema.decodeUnknown(TransportEvent)(raw), (error) => invalidInputFromParseError(error, "event"))
    return { event, frame: yield* checkedFrame(event, limit) }
  })

/** The frame of an already decoded event, refusing one over `limit` bytes. */
export const checkedFrame = (event: TransportEvent, limit: number): Effect.Effect<string, PayloadTooLarge> => {
  const frame = eventFrame(event)
  // UTF-8 is at most three bytes per UTF-16 unit: encode only when the answer is not obvious.
  const size = frame.length * 3 <= limit ? frame.length : encoder.encode(frame).byteLength
  return size > limit
    ? Effect.fail(new PayloadTooLarge({ field: "data", size, limit, message: `data: the event is ${size} bytes, over the limit of ${limit}` }))
    : Effect.succeed(frame)
}
