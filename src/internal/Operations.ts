/**
 * Operations declared once per actor kind: name, payload Schema, success Schema and error union.
 *
 * The shape is `@effect/rpc`'s (`Rpc.make(tag, { payload, success, error })`, a group of them,
 * handlers derived from the group, a client derived from the group). The package itself does not
 * fit our transport: its client and server speak a framed request/response protocol with request
 * ids, acknowledgements and a server loop per connection, while an actor's Durable Object is one
 * RPC method (`invoke`) answered with one Schema-encoded `Exit`, inside the actor's mailbox.
 *
 * From one declaration both sides are derived:
 * - the actor's dispatcher (`implement`): decode the payload (every problem named), run the
 *   handler, encode the success value with its Schema;
 * - the Worker's client (`client`): send the payload, decode the answer's whole `Exit` with the
 *   operation's own Exit Schema (success Schema + error union), so a value that does not match
 *   the declaration fails with a typed error instead of passing through.
 *
 * Every decoder and encoder is built once, when the operation is declared, not per call.
 *
 * @since 0.1.0
 */
import { Effect, Either, Exit, type ParseResult, Schema, type SchemaAST } from "effect"
import { InstanceNotDeclared, InvalidInput, invalidInputFromParseError, RealtimeError, StorageFailure } from "../RealtimeError.js"
import type { Actor } from "../schema/Common.js"
import { compileDecoder, UNDECIDED } from "../schema/CompiledDecoder.js"

/**
 * Errors any operation may fail with at the boundary, whatever it declares: a refused request
 * (bad address, unknown operation, bad payload), an undeclared instance, an unreachable object
 * or an answer that does not match the declaration.
 */
export const BoundaryError = Schema.Union(InvalidInput, StorageFailure, InstanceNotDeclared)
export type BoundaryError = typeof BoundaryError.Type

/** One declared operation, with its codecs built once. */
export interface Operation<Name extends string, P, PI, A, AI, E> {
  readonly name: Name
  readonly payload: Schema.Schema<P, PI>
  readonly success: Schema.Schema<A, AI>
  /** The declared error union (boundary errors are always possible besides). */
  readonly error: Schema.Schema.All & { readonly Type: E }
  /** Actor side: the payload, every problem named in one `InvalidInput`. */
  readonly decodePayload: (input: unknown) => Effect.Effect<P, InvalidInput>
  /** `decodePayload` as an `Either`, for an actor's synchronous paths (payload Schemas are synchronous). */
  readonly decodePayloadEither: (input: unknown) => Either.Either<P, InvalidInput>
  /** Worker side: a decoded payload back to what crosses the boundary. */
  readonly encodePayload: (payload: P) => Effect.Effect<PI, InvalidInput>
  /** Actor side: the handler's value to what crosses the boundary. */
  readonly encodeSuccess: (value: A) => Effect.Effect<AI, StorageFailure>
  /** Worker side: the answer (an encoded `Exit`) to the operation's own result. */
  readonly decodeAnswer: (answer: unknown) => Effect.Effect<A, E | BoundaryError>
  /** `decodeAnswer` as an `Exit`, for callers outside the Effect runtime (the Promise facade's hot paths). */
  readonly decodeAnswerExit: (answer: unknown) => Exit.Exit<A, E | BoundaryError>
  /**
   * The value of a success answer that the operation's `trustedAnswer` check takes as it is, read
   * without building an `Exit`; `undefined` for any other answer (decode it with `decodeAnswerExit`).
   */
  readonly trustedSuccess: (answer: unknown) => A | undefined
}

/** Any declared operation. */
export type Any = Operation<string, any, any, any, any, any>

export type Payload<O extends Any> = O extends Operation<string, infer P, infer _PI, infer _A, infer _AI, infer _E> ? P : never
export type PayloadEncoded<O extends Any> = O extends Operation<string, infer _P, infer PI, infer _A, infer _AI, infer _E> ? PI : never
export type Success<O extends Any> = O extends Operation<string, infer _P, infer _PI, infer A, infer _AI, infer _E> ? A : never
export type Failure<O extends Any> = O extends Operation<string, infer _P, infer _PI, infer _A, infer _AI, infer E> ? E | BoundaryError : never

/**
 * Declare an operation. `error` defaults to the whole `RealtimeError` union.
 *
 * @example
 * ```ts
 * const publish = Operations.make("publish", { payload: PublishInput, success: PublishResult })
 * ```
 */
export const make = <const Name extends string, P, PI, A, AI, E = RealtimeError, EI = unknown>(
  name: Name,
  options: {
    readonly payload: Schema.Schema<P, PI>
    readonly success: Schema.Schema<A, AI>
    readonly error?: Schema.Schema<E, EI>
    /**
     * For an operation only this library's own objects call, with values decoded where they
     * entered (a shard's changes to its hubs): a structural check used instead of the payload
     * Schema's decode on the actor side. It still refuses what the handler cannot take.
     */
    readonly trusted?: (input: unknown) => Either.Either<P, InvalidInput>
    /**
     * Decode the payload with a decoder compiled from its Schema first (`schema/CompiledDecoder.ts`:
     * same value as the Schema's whenever it accepts), and with the Schema when that answers
     * undecided (which also words every refusal). For payloads on a hot path (a database write).
     */
    readonly compiled?: boolean
    /**
     * For an answer only this library's own actor produces: a structural check that answers the
     * value as it is, or `undefined` for anything it does not recognise (then the success Schema
     * decodes it, and words the error).
     */
    readonly trustedAnswer?: (value: unknown) => A | undefined
  },
): Operation<Name, P, PI, A, AI, E> => {
  const error = (options.error ?? RealtimeError) as unknown as Schema.Schema<E>
  // Every problem, not only the first: the error lists each field that needs fixing.
  const decodePayload = Schema.decodeUnknown(options.payload, { errors: "all" })
  const decodePayloadSync = Schema.decodeUnknownEither(options.payload, { errors: "all" })
  const compiled = options.compiled === true ? compileDecoder(options.payload as Schema.Schema<P, PI, never>) : undefined
  const trusted =
    options.trusted ??
    (compiled === undefined
      ? undefined
      : (input: unknown): Either.Either<P, InvalidInput> => {
          const value = compiled(input)
          return value !== UNDECIDED ? Either.right(value) : Either.mapLeft(decodePayloadSync(input), (problem) => invalidInputFromParseError(problem))
        })
  const encodePayload = Schema.encode(options.payload)
  // Without transformations a value is its own encoding: the actor sends it as is and the Worker's
  // decode is the check (encoding a 1,000-message page would cost ~1 ms more per call).
  const encodeSuccess = encodesToItself(options.success.ast) ? undefined : Schema.encode(options.success)
  // The envelope and the value are decoded apart: one Exit Schema around the success Schema
  // decodes the value twice as slowly as the value's own decoder.
  const decodeEnvelope = Schema.decodeUnknownEither(Schema.Exit({ success: Schema.Unknown, failure: Schema.Union(error, BoundaryError), defect: Schema.Defect }))
  const decodeSuccess = Schema.decodeUnknownEither(options.success)
  const undecodable = (problem: ParseResult.ParseError) => new StorageFailure({ message: `${name}: undecodable answer: ${problem.message}` })
  // An Exit is an Effect: `decodeAnswer` is this very value.
  /** The value of a success envelope (`{ _tag: "Success", value }`, what the envelope Schema decodes it to), else the envelope decoded. */
  const isSuccessEnvelope = (encoded: unknown): encoded is { readonly _tag: "Success"; readonly value: unknown } =>
    encoded !== null && typeof encoded === "object" && (encoded as { _tag?: unknown })._tag === "Success" && Object.hasOwn(encoded, "value")
  const openEnvelope = (encoded: unknown): Exit.Exit<unknown, E | BoundaryError> | ParseResult.ParseError => {
    if (isSuccessEnvelope(encoded)) return Exit.succeed(encoded.value)
    const envelope = decodeEnvelope(encoded)
    return Either.isLeft(envelope) ? envelope.left : (envelope.right as Exit.Exit<unknown, E | BoundaryError>)
  }
  const decodeAnswerExit = (encoded: unknown): Exit.Exit<A, E | BoundaryError> => {
    const exit = openEnvelope(encoded)
    if (!Exit.isExit(exit)) return Exit.fail(undecodable(exit))
    if (Exit.isFailure(exit)) return Exit.failCause(exit.cause)
    const checked = options.trustedAnswer?.(exit.value)
    if (checked !== undefined) return Exit.succeed(checked)
    const value = decodeSuccess(exit.value)
    return Either.isLeft(value) ? Exit.fail(undecodable(value.left)) : Exit.succeed(value.right as A)
  }
  return {
    name,
    payload: options.payload,
    success: options.success,
    error,
    decodePayload: (input) => (trusted === undefined ? Effect.mapError(decodePayload(input ?? {}), (problem) => invalidInputFromParseError(problem)) : trusted(input ?? {})),
    decodePayloadEither: (input) => (trusted === undefined ? Either.mapLeft(decodePayloadSync(input ?? {}), (problem) => invalidInputFromParseError(problem)) : trusted(input ?? {})),
    encodePayload: (payload) => Effect.mapError(encodePayload(payload), (problem) => invalidInputFromParseError(problem)),
    encodeSuccess: (value) =>
      encodeSuccess === undefined
        ? Effect.succeed(value as unknown as AI)
        : Effect.mapError(encodeSuccess(value), (problem) => new StorageFailure({ message: `${name}: the actor's answer does not match its declaration: ${problem.message}` })),
    decodeAnswer: (encoded) => decodeAnswerExit(encoded),
    decodeAnswerExit,
    trustedSuccess: (encoded) => (options.trustedAnswer !== undefined && isSuccessEnvelope(encoded) ? options.trustedAnswer(encoded.value) : undefined),
  }
}

/**
 * Whether a Schema's encoded form is its value (no transformation anywhere inside), so encoding
 * only re-checks what the Worker's decode checks anyway. Unknown shapes count as transforming.
 */
export const encodesToItself = (ast: SchemaAST.AST): boolean => {
  switch (ast._tag) {
    case "Refinement":
      return encodesToItself(ast.from)
    case "TypeLiteral":
      return ast.propertySignatures.every((property) => encodesToItself(property.type)) && ast.indexSignatures.every((index) => encodesToItself(index.type))
    case "Union":
      return ast.types.every(encodesToItself)
    case "TupleType":
      return ast.elements.every((element) => encodesToItself(element.type)) && ast.rest.every((rest) => encodesToItself(rest.type))
    case "Transformation":
    case "Declaration":
    case "Suspend":
      return false
    default:
      // Keywords, literals, enums, template literals: encoded as they are.
      return true
  }
}

/** Operations keyed by their names: what one actor kind answers. */
export type Group = { readonly [name: string]: Any }

/** Declare a group from `{ name: { payload, success, error? } }`: each key is its operation's name. */
export const group = <const D extends Record<string, { readonly payload: Schema.Schema.Any; readonly success: Schema.Schema.Any; readonly error?: Schema.Schema.All; readonly trusted?: (input: unknown) => Either.Either<any, InvalidInput>; readonly compiled?: boolean; readonly trustedAnswer?: (value: unknown) => any }>>(
  declarations: D,
): { readonly [K in keyof D & string]: Operation<K, Schema.Schema.Type<D[K]["payload"]>, Schema.Schema.Encoded<D[K]["payload"]>, Schema.Schema.Type<D[K]["success"]>, Schema.Schema.Encoded<D[K]["success"]>, D[K] extends { readonly error: Schema.Schema.All } ? Schema.Schema.Type<D[K]["error"]> : RealtimeError> } => {
  const ops: Record<string, Any> = {}
  for (const [name, declaration] of Object.entries(declarations)) ops[name] = make(name, declaration as never)
  return ops as never
}

/** What the actor's host calls: an operation's raw payload and the caller the Worker resolved. */
export type Dispatch = (input: unknown, caller: Actor | undefined) => Effect.Effect<unknown, RealtimeError>

/** The handler an actor writes for an operation: decoded payload in, the declared success out. */
export type Handler<O extends Any> = (payload: Payload<O>, caller: Actor | undefined) => Effect.Effect<Success<O>, Failure<O>>

/** A handler written beside the operation it serves (typed by it); gathered with `implement`. */
export const handler = <O extends Any>(_op: O, body: Handler<O>): Handler<O> => body

export type Handlers<G extends Group> = { readonly [K in keyof G]: Handler<G[K]> }

/** A dispatcher table that answers exactly the operations of `G`. */
export type Dispatcher<G extends Group> = { readonly [K in keyof G]: Dispatch }

/** The actor side of one operation. */
export const serve =
  <O extends Any>(op: O, handler: Handler<O>): Dispatch =>
  (input, caller) =>
    op.decodePayload(input).pipe(
      Effect.flatMap((payload) => handler(payload, caller)),
      Effect.flatMap((value) => op.encodeSuccess(value)),
    ) as Effect.Effect<unknown, RealtimeError>

/** The actor side of a group: one handler per declared operation, checked by the compiler. */
export const implement = <G extends Group>(ops: G, handlers: Handlers<G>): Dispatcher<G> => {
  const table: Record<string, Dispatch> = {}
  for (const name of Object.keys(ops)) table[name] = serve(ops[name], handlers[name] as Handler<Any>)
  return table as Dispatcher<G>
}

/**
 * Find the operation a request names. Own names only: `toString`, `constructor` or `__proto__`
 * must not resolve to something every object inherits.
 */
export const lookup = (table: Readonly<Record<string, Dispatch>>, name: string): Dispatch | undefined =>
  Object.hasOwn(table, name) ? table[name] : undefined

/** How a client reaches one actor: send an operation's name and encoded payload, get the raw answer. */
export type Send = (name: string, input: unknown) => Effect.Effect<unknown, RealtimeError>

/** A payload parameter is optional when the empty payload is valid for it. */
type ClientMethod<O extends Any> = {} extends PayloadEncoded<O>
  ? (input?: PayloadEncoded<O>) => Effect.Effect<Success<O>, Failure<O>>
  : (input: PayloadEncoded<O>) => Effect.Effect<Success<O>, Failure<O>>

export type Client<G extends Group> = { readonly [K in keyof G]: ClientMethod<G[K]> }

/** Call one operation through `send` and decode its answer. */
export const call = <O extends Any>(op: O, send: Send, input?: PayloadEncoded<O>): Effect.Effect<Success<O>, Failure<O>> =>
  Effect.flatMap(send(op.name, input), op.decodeAnswer) as Effect.Effect<Success<O>, Failure<O>>

/** The Worker side of a group: one method per operation, answers decoded with their Schemas. */
export const client = <G extends Group>(ops: G, send: Send): Client<G> => {
  const methods: Record<string, (input?: unknown) => Effect.Effect<unknown, RealtimeError>> = {}
  for (const name of Object.keys(ops)) methods[name] = (input) => call(ops[name], send, input)
  return methods as Client<G>
}
