/**
 * Reading a JSON request body in an app's own routes, with the library's input rules applied
 * before any work: a size limit (from `Content-Length` when given, else while reading), the
 * nesting limit on the text before `JSON.parse`, then plain-JSON rules (no reserved keys such as
 * `__proto__`, finite numbers). Failures are typed: `PayloadTooLarge` (413) or `InvalidInput` (400),
 * never a 500.
 *
 * @example
 * ```ts
 * const body = await readJsonBodyPromise(request) // rejects with InvalidInput / PayloadTooLarge
 * await live.room(id).publish({ type: "message.created", data: body })
 * ```
 *
 * @since 0.2.0
 */
import { Effect } from "effect"
import { InvalidInput, PayloadTooLarge } from "../RealtimeError.js"
import { jsonProblem, jsonTextTooDeep, MAX_JSON_DEPTH } from "../schema/Common.js"

export interface JsonBodyOptions {
  /** Largest body in bytes. Default 1 MiB. */
  readonly maxBytes?: number
}

const tooLarge = (size: number, limit: number) =>
  new PayloadTooLarge({ field: "body", size, limit, message: `body: ${size} bytes exceeds the limit of ${limit} bytes` })

/** Parse JSON text under the library's rules (depth before parsing, then plain JSON). */
export const parseJsonText = (text: string, field = "body"): Effect.Effect<unknown, InvalidInput> =>
  Effect.suspend(() => {
    if (jsonTextTooDeep(text, MAX_JSON_DEPTH)) return Effect.fail(new InvalidInput({ field, message: `${field}: must not be nested deeper than ${MAX_JSON_DEPTH} levels` }))
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch {
      return Effect.fail(new InvalidInput({ field, message: `${field}: must be JSON` }))
    }
    const problem = jsonProblem(value)
    return problem === undefined ? Effect.succeed(value) : Effect.fail(new InvalidInput({ field, message: `${field}: ${problem}` }))
  })

/** Read and parse a request's JSON body (see the module comment). */
export const readJsonBody = (request: Request, options: JsonBodyOptions = {}): Effect.Effect<unknown, InvalidInput | PayloadTooLarge> =>
  Effect.gen(function* () {
    const limit = options.maxBytes ?? 1024 * 1024
    const declared = Number(request.headers.get("content-length") ?? Number.NaN)
    if (Number.isFinite(declared) && declared > limit) return yield* tooLarge(declared, limit)
    const bytes = yield* Effect.tryPromise({
      try: () => readAtMost(request, limit),
      catch: () => new InvalidInput({ field: "body", message: "body: could not be read" }),
    })
    if (bytes === undefined) return yield* tooLarge(limit + 1, limit)
    return yield* parseJsonText(new TextDecoder().decode(bytes))
  })

/** {@link readJsonBody} for Promise-style handlers: rejects with the typed error. */
export const readJsonBodyPromise = (request: Request, options?: JsonBodyOptions): Promise<unknown> =>
  Effect.runPromise(Effect.either(readJsonBody(request, options))).then((result) => {
    if (result._tag === "Left") throw result.left
    return result.right
  })

/** The body's bytes, or `undefined` as soon as it passes `limit` (the rest is never buffered). */
const readAtMost = async (request: Request, limit: number): Promise<Uint8Array | undefined> => {
  if (request.body === null) return new Uint8Array()
  const reader = request.body.getReader()
  const chunks: Array<Uint8Array> = []
  let size = 0
  for (;;) {
    const { value, done } = await reader.read()
    if (done) break
    size += value.byteLength
    if (size > limit) {
      await reader.cancel().catch(() => undefined)
      return undefined
    }
    chunks.push(value)
  }
  const out = new Uint8Array(size)
  let at = 0
  for (const chunk of chunks) {
    out.set(chunk, at)
    at += chunk.byteLength
  }
  return out
}
