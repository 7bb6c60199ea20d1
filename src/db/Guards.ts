/**
 * Checks a row (or patch, or locator) must pass before any other work: no key that could reach an
 * object's prototype (`__proto__`, `constructor`, `prototype`), no nesting deeper than
 * `MAX_ROW_DEPTH`, and no more characters than the row limit allows.
 *
 * The policy for rows is to refuse such keys with `InvalidInput` rather than store them: a row's
 * columns are declared names, and a JSON column holding `__proto__` would come back from
 * `JSON.parse` as an own property but turn into a prototype on the first copy by spread or
 * assignment somewhere downstream (ours or the application's).
 *
 * The walk is iterative (a 100,000-deep body cannot overflow the stack) and stops at the first
 * problem. It also adds up string lengths: characters never exceed UTF-8 bytes, so a row with
 * more characters than `maxRowBytes` is too large without encoding it (the exact byte check is
 * done in the shard, on the JSON it encodes anyway).
 *
 * @since 0.1.0
 */
import { InvalidInput, PayloadTooLarge } from "../RealtimeError.js"

/** Depth of a row object (1) plus JSON column values (up to 63 more levels). */
export const MAX_ROW_DEPTH = 64
/** Default `maxRowBytes`: the UTF-8 size of a row's JSON encoding. */
export const DEFAULT_MAX_ROW_BYTES = 1_048_576
/** Highest `maxRowBytes` accepted: an update carries old and new images, and a change must fit one RPC (32 MiB) alone. */
export const MAX_ROW_BYTES_LIMIT = 8 * 1_048_576

const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(["__proto__", "constructor", "prototype"])

interface Entry {
  readonly value: unknown
  readonly depth: number
  readonly key: string
  readonly parent: Entry | undefined
}

const pathOf = (entry: Entry): string => {
  const parts: Array<string> = []
  for (let at: Entry | undefined = entry; at !== undefined; at = at.parent) parts.push(at.key)
  return parts.reverse().join(".")
}

/** The first problem of a row-like value, or `undefined` when it may proceed. */
export const checkRowShape = (value: unknown, field: string, maxChars: number): InvalidInput | PayloadTooLarge | undefined => {
  const flat = checkFlatRow(value, field, maxChars)
  return flat !== NESTED ? flat : walkRowShape(value, field, maxChars)
}

/** `checkFlatRow`'s answer for a value it leaves to the walk. */
const NESTED = Symbol("nested")

/**
 * `checkRowShape` for the usual row, an object (not an array) whose values are all scalars, without
 * the walk's entry per value (it is checked on every write, in the Worker and again in the shard).
 * Its first problem is the walk's: a refused key is found in the same key order; a row over the
 * size limit is left to the walk, which words the size at which it went over. `NESTED` when a value
 * is an object or an array, or the value itself is not an object.
 */
const checkFlatRow = (value: unknown, field: string, maxChars: number): InvalidInput | PayloadTooLarge | undefined | typeof NESTED => {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return NESTED
  let chars = 0
  for (const key of Object.keys(value)) {
    chars += key.length
    if (FORBIDDEN_KEYS.has(key)) return new InvalidInput({ field: `${field}.${key}`, message: `${field}.${key}: "${key}" is not allowed as a key` })
    const item = (value as Record<string, unknown>)[key]
    if (typeof item === "string") chars += item.length
    else if (item !== null && typeof item === "object") return NESTED
  }
  return chars > maxChars ? NESTED : undefined
}

/** The general check, one entry per value; `checkRowShape` agrees with it on every value (test/db-guards.test.ts). */
export const walkRowShape = (value: unknown, field: string, maxChars: number): InvalidInput | PayloadTooLarge | undefined => {
  const stack: Array<Entry> = [{ value, depth: 0, key: field, parent: undefined }]
  let chars = 0
  while (stack.length > 0) {
    const entry = stack.pop()!
    const current = entry.value
    if (typeof current === "string") {
      chars += current.length
      if (chars > maxChars) return new PayloadTooLarge({ field, size: chars, limit: maxChars, message: `${field}: larger than maxRowBytes (${maxChars} bytes)` })
      continue
    }
    if (current === null || typeof current !== "object") continue
    if (entry.depth >= MAX_ROW_DEPTH) {
      const path = pathOf(entry)
      return new InvalidInput({ field: path, message: `${path}: nested deeper than ${MAX_ROW_DEPTH} levels` })
    }
    if (Array.isArray(current)) {
      for (let i = current.length - 1; i >= 0; i--) stack.push({ value: current[i], depth: entry.depth + 1, key: String(i), parent: entry })
      continue
    }
    for (const key of Object.keys(current)) {
      chars += key.length
      if (FORBIDDEN_KEYS.has(key)) {
        const path = `${pathOf(entry)}.${key}`
        return new InvalidInput({ field: path, message: `${path}: "${key}" is not allowed as a key` })
      }
      stack.push({ value: (current as Record<string, unknown>)[key], depth: entry.depth + 1, key, parent: entry })
    }
  }
  return undefined
}

/** UTF-8 length of a string, without allocating its encoding. */
export const utf8Length = (text: string): number => {
  let bytes = text.length
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code < 0x80) continue
    if (code < 0x800) bytes += 1
    else if (code >= 0xd800 && code <= 0xdbff) {
      // A surrogate pair: 4 bytes for 2 UTF-16 units.
      bytes += 2
      i++
    } else bytes += 2
  }
  return bytes
}

/** Bytes of an encoded row, or `undefined` when it is within `limit` (the exact count only when it could matter). */
export const oversize = (json: string, limit: number): number | undefined => {
  if (json.length * 3 <= limit) return undefined
  if (json.length > limit) return json.length
  const bytes = utf8Length(json)
  return bytes > limit ? bytes : undefined
}

/** Characters of a value's strings and keys (a lower bound of its UTF-8 JSON size); call after `checkRowShape`. */
export const characters = (value: unknown): number => {
  const stack: Array<unknown> = [value]
  let chars = 0
  while (stack.length > 0) {
    const current = stack.pop()
    if (typeof current === "string") chars += current.length
    else if (Array.isArray(current)) stack.push(...current)
    else if (current !== null && typeof current === "object") {
      for (const key of Object.keys(current)) {
        chars += key.length
        stack.push((current as Record<string, unknown>)[key])
      }
    }
  }
  return chars
}
