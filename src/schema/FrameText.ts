/**
 * The hottest client frames read straight from their text in one pass, in the shapes clients write
 * them (no whitespace): a `broadcast`
 * (`{"type":"broadcast","event":{"type":…,"data":…}[,"includeSelf":…][,"id":…]}`) and a `publish`
 * (`{"type":"publish"[,"id":…],"message":{"type":…,"data":…[,"idempotencyKey":…]}[,"id":…]}`): no
 * `JSON.parse`, no decoded `data` to walk, no `JSON.stringify` of it again. The `event` frame and
 * the stored row splice the data's text as it came.
 *
 * That is only sound for text that is already exactly what `JSON.stringify(JSON.parse(text))`
 * gives back, and whose parsed value the `ClientFrame` Schema accepts. So the scan accepts a
 * strict subset and declines (gives `undefined`) anything else, which then takes the ordinary
 * path (`JSON.parse`, the compiled decoder, the Schema) and is decided and worded there as
 * before. It declines: whitespace, any escape in a string, a lone surrogate, a number not in its
 * canonical form (`1.0`, `1e2`, `-0`, `1e400`: checked as `String(Number(text)) === text`), an
 * object key that is a reserved name (`JsonValue` refuses those), repeated in its object (JSON.parse
 * keeps the last) or starting with a digit (JSON.parse moves integer keys first), more than 32 keys
 * in an object, containers nested deeper than 16, `metadata`, and fields in another order.
 * test/frame-text.test.ts holds every accepted frame to the Schema and to the old encoding.
 *
 * @since 0.2.0
 */
import { decodeIdempotencyKey, decodeMessageType, decodeRequestId, UNDECIDED } from "./ClientFrameDecoder.js"
import type { ClientFrame } from "./Protocol.js"

/** A `broadcast` read from its text: the event's type and data as JSON text, ready to splice. */
export class BroadcastText {
  readonly type = "broadcast" as const
  constructor(
    readonly id: string | undefined,
    /** The event type's JSON text (quoted), and the type itself. */
    readonly eventTypeJson: string,
    readonly eventType: string,
    readonly dataJson: string,
    readonly includeSelf: boolean,
  ) {}

  /** The frame the `ClientFrame` Schema gives for the same text (for the ordinary, Effect path). */
  decoded(): Extract<ClientFrame, { readonly type: "broadcast" }> {
    const event = { type: this.eventType, data: JSON.parse(this.dataJson) as unknown }
    return this.id === undefined
      ? { type: "broadcast", event, includeSelf: this.includeSelf }
      : { type: "broadcast", id: this.id, event, includeSelf: this.includeSelf }
  }
}

/** A `publish` read from its text: the message's type and data (JSON text, stored as it is), its key. */
export class PublishText {
  readonly type = "publish" as const
  constructor(
    readonly id: string | undefined,
    readonly messageType: string,
    readonly dataJson: string,
    readonly idempotencyKey: string | undefined,
  ) {}

  /** The frame the `ClientFrame` Schema gives for the same text (for the ordinary, Effect path). */
  decoded(): Extract<ClientFrame, { readonly type: "publish" }> {
    const data = JSON.parse(this.dataJson) as unknown
    const message = this.idempotencyKey === undefined ? { type: this.messageType, data } : { type: this.messageType, data, idempotencyKey: this.idempotencyKey }
    return this.id === undefined ? { type: "publish", message } : { type: "publish", id: this.id, message }
  }
}

const PREFIX = '{"type":"broadcast","event":{"type":'
const PUBLISH = '{"type":"publish",'
const MESSAGE = '"message":{"type":'
const KEY = ',"idempotencyKey":'
const DATA = ',"data":'
const INCLUDE_SELF = ',"includeSelf":'
const ID = ',"id":'
/** Deeper data is not rare enough to matter and not common enough to scan: it takes the ordinary path. */
const MAX_SCAN_DEPTH = 16
const MAX_SCAN_KEYS = 32
const RESERVED = ["__proto__", "constructor", "prototype"]

// The text being scanned and the position in it (module state: the scan is synchronous and not
// reentrant, and no per-call closure or cursor object is made).
let text = ""
let at = 0

const isDigit = (code: number): boolean => code >= 0x30 && code <= 0x39

/** A string without escapes, `at` on its opening quote; `at` ends after the closing one. */
const scanString = (): boolean => {
  let index = at + 1
  for (;;) {
    const code = text.charCodeAt(index)
    if (code === 0x22) break
    // NaN (past the end), control characters and backslashes all decline.
    if (!(code >= 0x20) || code === 0x5c) return false
    if (code >= 0xd800 && code <= 0xdfff) {
      // Only a high surrogate followed by a low one (JSON.stringify escapes lone ones).
      const low = text.charCodeAt(index + 1)
      if (code >= 0xdc00 || !(low >= 0xdc00 && low <= 0xdfff)) return false
      index++
    }
    index++
  }
  at = index + 1
  return true
}

const skipDigits = (index: number): number => {
  while (isDigit(text.charCodeAt(index))) index++
  return index
}

/** A JSON number in the form JSON.stringify writes it back (and finite). */
const scanNumber = (): boolean => {
  const start = at
  let index = text.charCodeAt(at) === 0x2d ? at + 1 : at
  const first = text.charCodeAt(index)
  if (first === 0x30) index++
  else if (isDigit(first)) index = skipDigits(index + 1)
  else return false
  let plain = true
  if (text.charCodeAt(index) === 0x2e) {
    if (!isDigit(text.charCodeAt(index + 1))) return false
    index = skipDigits(index + 1)
    plain = false
  }
  const exponent = text.charCodeAt(index)
  if (exponent === 0x65 || exponent === 0x45) {
    const sign = text.charCodeAt(index + 1)
    const digits = sign === 0x2b || sign === 0x2d ? index + 2 : index + 1
    if (!isDigit(text.charCodeAt(digits))) return false
    index = skipDigits(digits)
    plain = false
  }
  // Up to 15 digits without sign, fraction or exponent: an exact double written back the same.
  if (!(plain && index - start <= 15 && text.charCodeAt(start) !== 0x2d)) {
    const literal = text.slice(start, index)
    const value = Number(literal)
    if (!Number.isFinite(value) || String(value) !== literal) return false
  }
  at = index
  return true
}

const scanLiteral = (word: string): boolean => {
  if (!text.startsWith(word, at)) return false
  at += word.length
  return true
}

const scanObject = (depth: number): boolean => {
  at++
  if (text.charCodeAt(at) === 0x7d) {
    at++
    return true
  }
  const keys: Array<string> = []
  for (;;) {
    if (text.charCodeAt(at) !== 0x22) return false
    const keyStart = at + 1
    if (!scanString()) return false
    const key = text.slice(keyStart, at - 1)
    if (isDigit(key.charCodeAt(0)) || RESERVED.includes(key) || keys.includes(key) || keys.length === MAX_SCAN_KEYS) return false
    keys.push(key)
    if (text.charCodeAt(at) !== 0x3a) return false
    at++
    if (!scanValue(depth + 1)) return false
    const next = text.charCodeAt(at++)
    if (next === 0x7d) return true
    if (next !== 0x2c) return false
  }
}

const scanArray = (depth: number): boolean => {
  at++
  if (text.charCodeAt(at) === 0x5d) {
    at++
    return true
  }
  for (;;) {
    if (!scanValue(depth + 1)) return false
    const next = text.charCodeAt(at++)
    if (next === 0x5d) return true
    if (next !== 0x2c) return false
  }
}

/** One JSON value at `depth` (the event's data is at 0, as `JsonValue` counts). */
const scanValue = (depth: number): boolean => {
  switch (text.charCodeAt(at)) {
    case 0x22:
      return scanString()
    case 0x7b:
      return depth < MAX_SCAN_DEPTH && scanObject(depth)
    case 0x5b:
      return depth < MAX_SCAN_DEPTH && scanArray(depth)
    case 0x74:
      return scanLiteral("true")
    case 0x66:
      return scanLiteral("false")
    case 0x6e:
      return scanLiteral("null")
    default:
      return scanNumber()
  }
}

/** The quoted string at `at` without its quotes, or `undefined`. */
const scanStringValue = (): string | undefined => {
  if (text.charCodeAt(at) !== 0x22) return undefined
  const start = at + 1
  return scanString() ? text.slice(start, at - 1) : undefined
}

/** `"data":<value>` after the type: the value's text, or `undefined`. */
const scanData = (): string | undefined => {
  if (!text.startsWith(DATA, at)) return undefined
  at += DATA.length
  const dataStart = at
  return scanValue(0) ? text.slice(dataStart, at) : undefined
}

/** `"id":"…"` checked as a `RequestId`, `at` on its opening quote. */
const scanId = (): string | undefined => {
  const raw = scanStringValue()
  return raw === undefined || decodeRequestId(raw) === UNDECIDED ? undefined : raw
}

const scanBroadcastFrame = (): BroadcastText | undefined => {
  at = PREFIX.length
  const typeStart = at
  const eventType = scanStringValue()
  if (eventType === undefined || decodeMessageType(eventType) === UNDECIDED) return undefined
  const eventTypeJson = text.slice(typeStart, at)
  const dataJson = scanData()
  if (dataJson === undefined || text.charCodeAt(at++) !== 0x7d) return undefined
  let includeSelf = false
  if (text.startsWith(INCLUDE_SELF, at)) {
    at += INCLUDE_SELF.length
    if (scanLiteral("true")) includeSelf = true
    else if (!scanLiteral("false")) return undefined
  }
  let id: string | undefined
  if (text.startsWith(ID, at)) {
    at += ID.length
    id = scanId()
    if (id === undefined) return undefined
  }
  if (at !== text.length - 1 || text.charCodeAt(at) !== 0x7d) return undefined
  return new BroadcastText(id, eventTypeJson, eventType, dataJson, includeSelf)
}

const scanPublishFrame = (): PublishText | undefined => {
  at = PUBLISH.length
  // The id before the message (as `JSON.stringify` of the Schema's value writes it) or after (the client's order).
  let id: string | undefined
  if (text.startsWith('"id":', at)) {
    at += 5
    id = scanId()
    if (id === undefined || text.charCodeAt(at++) !== 0x2c) return undefined
  }
  if (!text.startsWith(MESSAGE, at)) return undefined
  at += MESSAGE.length
  const messageType = scanStringValue()
  if (messageType === undefined || decodeMessageType(messageType) === UNDECIDED) return undefined
  const dataJson = scanData()
  if (dataJson === undefined) return undefined
  let idempotencyKey: string | undefined
  if (text.startsWith(KEY, at)) {
    at += KEY.length
    idempotencyKey = scanStringValue()
    if (idempotencyKey === undefined || decodeIdempotencyKey(idempotencyKey) === UNDECIDED) return undefined
  }
  if (text.charCodeAt(at++) !== 0x7d) return undefined
  if (id === undefined && text.startsWith(ID, at)) {
    at += ID.length
    id = scanId()
    if (id === undefined) return undefined
  }
  if (at !== text.length - 1 || text.charCodeAt(at) !== 0x7d) return undefined
  return new PublishText(id, messageType, dataJson, idempotencyKey)
}

const scanning = <A>(message: string, scan: () => A): A => {
  text = message
  try {
    return scan()
  } finally {
    // Do not keep the last frame alive.
    text = ""
  }
}

/** The frame, when it is a `broadcast` this scan can vouch for; `undefined` sends it the ordinary way. */
export const scanBroadcast = (message: string): BroadcastText | undefined =>
  message.startsWith(PREFIX) ? scanning(message, scanBroadcastFrame) : undefined

/** The frame, when it is a `publish` this scan can vouch for; `undefined` sends it the ordinary way. */
export const scanPublish = (message: string): PublishText | undefined =>
  message.startsWith(PUBLISH) ? scanning(message, scanPublishFrame) : undefined

/** A `broadcast` or `publish` read from its text, or `undefined`. */
export const scanHotFrame = (message: string): BroadcastText | PublishText | undefined => scanBroadcast(message) ?? scanPublish(message)
