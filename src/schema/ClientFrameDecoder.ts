/**
 * The `ClientFrame` Schema compiled (`CompiledDecoder.ts`) for the socket fast path: a frame it
 * accepts is exactly what the Schema gives; for any other the caller runs the Schema, which
 * decides and words the refusal. `JsonValue` / `JsonObject` filters run as their plain predicate.
 *
 * @since 0.2.0
 */
import { compileDecoder } from "./CompiledDecoder.js"
import { isJsonValue, JsonObject, JsonValue } from "./Common.js"
import { ClientFrame } from "./Protocol.js"

export { UNDECIDED } from "./CompiledDecoder.js"

export const decodeClientFrameNow = compileDecoder(ClientFrame, {
  filters: new Map([
    [JsonValue.ast, isJsonValue],
    [JsonObject.ast, isJsonValue],
  ]),
})
