/**
 * The `ClientFrame` Schema compiled (`CompiledDecoder.ts`) for the socket fast path: a frame it
 * accepts is exactly what the Schema gives; for any other the caller runs the Schema, which
 * decides and words the refusal. `JsonValue` / `JsonObject` filters run as their plain predicate.
 *
 * `broadcast`, the frame every ephemeral event is (cursors, typing: the hottest frame there is),
 * is read by hand, field by field, with the rules of its fields compiled from their own Schemas
 * (`MessageType`, `RequestId`, `JsonObject`, `JsonValue`'s predicate): the generic compiled struct
 * walks a closure per node, each one a cold call on a socket that sends a frame now and then.
 * test/compiled-decoder.test.ts holds it to the Schema like the rest.
 *
 * @since 0.2.0
 */
import { compileDecoder, UNDECIDED, type Undecided } from "./CompiledDecoder.js"
import { isJsonValue, JsonObject, JsonValue } from "./Common.js"
import { IdempotencyKey, MessageType } from "./Message.js"
import { ClientFrame, RequestId } from "./Protocol.js"

export { UNDECIDED } from "./CompiledDecoder.js"

const options = {
  filters: new Map([
    [JsonValue.ast, isJsonValue],
    [JsonObject.ast, isJsonValue],
  ]),
}

/** Every frame type: compiled from the whole `ClientFrame` union. */
export const decodeClientFrameCompiled = compileDecoder(ClientFrame, options)

const messageType = compileDecoder(MessageType, options)
const requestId = compileDecoder(RequestId, options)
/** `MessageType`, `RequestId`, `IdempotencyKey` compiled (FrameText.ts checks a scanned frame's strings with them). */
export const decodeIdempotencyKey = compileDecoder(IdempotencyKey, options)
export { messageType as decodeMessageType, requestId as decodeRequestId }
const jsonObject = compileDecoder(JsonObject, options)

const own = (record: object, key: string): boolean => Object.prototype.hasOwnProperty.call(record, key)
const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value)

/**
 * `BroadcastFrame` as the parser decodes it: excess keys dropped, `data` null and `includeSelf`
 * false when absent or `undefined`, an optional key given as `undefined` kept so, keys in the
 * Schema's order.
 */
const decodeBroadcast = (frame: Record<string, unknown>): ClientFrame | Undecided => {
  const event = frame.event
  if (!own(frame, "event") || !isRecord(event) || !own(event, "type")) return UNDECIDED
  const type = messageType(event.type)
  if (type === UNDECIDED) return UNDECIDED
  const data = own(event, "data") && event.data !== undefined ? event.data : null
  if (data !== null && !isJsonValue(data)) return UNDECIDED
  let decodedEvent: { type: string; data: unknown; metadata?: Record<string, unknown> | undefined } = { type, data }
  if (own(event, "metadata")) {
    const metadata = event.metadata === undefined ? undefined : jsonObject(event.metadata)
    if (metadata === UNDECIDED) return UNDECIDED
    decodedEvent = { type, data, metadata }
  }
  const includeSelf = own(frame, "includeSelf") ? frame.includeSelf : undefined
  if (includeSelf !== undefined && typeof includeSelf !== "boolean") return UNDECIDED
  if (!own(frame, "id")) return { type: "broadcast", event: decodedEvent, includeSelf: includeSelf ?? false }
  const id = frame.id === undefined ? undefined : requestId(frame.id)
  return id === UNDECIDED ? UNDECIDED : { type: "broadcast", id, event: decodedEvent, includeSelf: includeSelf ?? false }
}

export const decodeClientFrameNow = (json: unknown): ClientFrame | Undecided =>
  isRecord(json) && json.type === "broadcast" && own(json, "type") ? decodeBroadcast(json) : decodeClientFrameCompiled(json)
