/**
 * Encoding an event once, with its size checked against the instance's limit before it goes
 * anywhere (the Worker checks at the edge, the hub again on arrival).
 * @since 0.1.0
 */
import { Effect, Schema } from "effect"
import { invalidInputFromParseError, PayloadTooLarge, type InvalidInput } from "../RealtimeError.js"
import { eventFrame } from "./SseStream.js"
import { TransportEvent } from "./Schema.js"

const encoder = new TextEncoder()

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
