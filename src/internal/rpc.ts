/**
 * The RPC boundary between a Worker and an actor's Durable Object.
 *
 * The object answers every call with a Schema-encoded `Exit`: typed failures travel as encoded
 * tagged errors and are decoded back into the same classes in the Worker. Success values are
 * encoded by the actor and decoded by the Worker with the operation's declared Schema
 * (`Operations.ts`); this module only carries them.
 *
 * @since 0.1.0
 */
import { Effect, type Exit, Schema } from "effect"
import { InvalidInput, RealtimeError, StorageFailure } from "../RealtimeError.js"
import { AddressHeaders, type ActorRequest } from "./ActorAddress.js"
import { MAX_JSON_DEPTH, RESERVED_KEYS, type Actor } from "../schema/Common.js"
import { objectIdOf, type StubCache } from "./ObjectStubs.js"
import * as Operations from "./Operations.js"
import type { Send } from "./Operations.js"

export const EncodedExit = Schema.Exit({ success: Schema.Unknown, failure: RealtimeError, defect: Schema.Defect })

const encodeExitSchema = Schema.encodeSync(EncodedExit)
/** An `Exit` as `EncodedExit` encodes it; a success is `{ _tag: "Success", value }` as it is (its Schema is `Unknown`), built without the Schema. */
export const encodeExit = (exit: Exit.Exit<unknown, RealtimeError>): unknown => (exit._tag === "Success" ? { _tag: "Success", value: exit.value } : encodeExitSchema(exit))

/** The shape of an actor's Durable Object stub, as the Worker sees it. */
export interface ActorStub {
  invoke(request: ActorRequest): Promise<unknown>
}

export interface ActorNamespace {
  idFromName(name: string): DurableObjectId
  get(id: DurableObjectId): unknown
}

/** The stub of an actor's object: from the caller's own cache (inside a Durable Object), or made for this call from a cached id. */
const stubOf = (namespace: ActorNamespace, name: string, stubs: StubCache | undefined) =>
  stubs === undefined ? namespace.get(objectIdOf(namespace, name)) : stubs.stubOf(namespace, name)

/** How one call is made. */
export interface CallOptions {
  /** The calling Durable Object's own stub cache (see `ObjectStubs.ts`). */
  readonly stubs?: StubCache
  /**
   * The input was built by this library from decoded values or `JSON.parse`, or checked by the
   * caller (plain objects all the way down, within the depth limit), as a shard's changes to its
   * hubs and a Worker's one-row write of flat values are: it is sent without the `plainInput` walk.
   */
  readonly plain?: true
  /**
   * With `stubs`: from a stub's second call on, calls go through an RPC session the object hands
   * out (`ActorHost.session(address)`, asked once per stub), not the stub. A call through a session
   * makes no new subrequest and no new incoming call in the object (~20 µs less per database write
   * in the db benchmark); one call alone would pay the extra call for it, so the first call goes
   * plain. The session is bound to the actor's address, so a call sends `invokeOp(op, input)`
   * without the request envelope (~6 µs less of (de)serializing per write). Calls keep their
   * order: none goes through the session while one made on the stub is in flight.
   */
  readonly session?: true
}

/** The Durable Object name of an actor: instances never share an object. */
export const objectName = (instance: string, kind: string, id: string) => `${instance}\u0000${kind}\u0000${id}`

/** Nesting an RPC input may have: a JSON value's limit plus room for the operation's envelope. */
const MAX_INPUT_DEPTH = MAX_JSON_DEPTH + 8

/** The depth refusal of an RPC input: thrown, turned into `InvalidInput` by the caller. */
const tooDeep = () => new InvalidInput({ field: "input", message: `input: must not be nested deeper than ${MAX_JSON_DEPTH} levels` })

/**
 * Whether an RPC input holds a null-prototype object anywhere (which `plainInput` must copy), read
 * without allocating. Input nested past any Schema's limit is refused here.
 */
const holdsNullPrototype = (value: unknown, depth: number): boolean => {
  if (value === null || typeof value !== "object") return false
  if (depth > MAX_INPUT_DEPTH) throw tooDeep()
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return false
  if (Array.isArray(value)) return value.some((item) => holdsNullPrototype(item, depth + 1))
  const prototype = Object.getPrototypeOf(value)
  if (prototype === null) return true
  // Dates and other values the runtime serializes itself are left alone.
  if (prototype !== Object.prototype) return false
  for (const key of Object.keys(value)) if (holdsNullPrototype((value as Record<string, unknown>)[key], depth + 1)) return true
  return false
}

const copyPlain = (value: unknown, depth: number): unknown => {
  if (value === null || typeof value !== "object") return value
  // Checked here too: the search above stops at the first null-prototype object it finds.
  if (depth > MAX_INPUT_DEPTH) throw tooDeep()
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return value
  if (Array.isArray(value)) return value.map((item) => copyPlain(item, depth + 1))
  const prototype = Object.getPrototypeOf(value)
  if (prototype !== null && prototype !== Object.prototype) return value
  const copy: Record<string, unknown> = {}
  for (const [key, item] of Object.entries(value)) {
    if (RESERVED_KEYS.has(key)) Object.defineProperty(copy, key, { value: copyPlain(item, depth + 1), enumerable: true, writable: true, configurable: true })
    else copy[key] = copyPlain(item, depth + 1)
  }
  return copy
}

/**
 * An RPC input the runtime accepts: Durable Object RPC refuses objects whose prototype is not
 * `Object.prototype` (`Object.create(null)`), which would otherwise surface as a storage failure
 * instead of the actor's own input validation, so an input holding one is copied with such objects
 * made plain; any other input is sent as it is (the RPC serializes it anyway: no copy per call).
 * Keys such as `__proto__` are copied as own data properties (never assigned, which would change
 * the copy's prototype), so they reach the actor's Schema and are refused there by name. Input
 * nested past any Schema's limit is refused here, before the runtime serializes it.
 */
export const plainInput = (value: unknown, depth = 0): unknown => (holdsNullPrototype(value, depth) ? copyPlain(value, depth) : value)

/**
 * Send one operation to an actor and return its raw answer (an encoded `Exit`). Callers decode it
 * with the operation's declaration (`Operations.call` / `Operations.client`), never by hand.
 * A call that throws forgets its stub in `options.stubs`: the runtime has broken it for later calls.
 */
export const sendToActor = (...args: Parameters<typeof invokeActor>): Effect.Effect<unknown, RealtimeError> =>
  Effect.tryPromise({ try: () => invokeActor(...args), catch: (error) => error as InvalidInput | StorageFailure })

/**
 * `sendToActor` without the Effect runtime, for the Promise facade's hot paths: the same request,
 * the same stub handling, rejecting with the same typed errors (`InvalidInput` for an input that
 * cannot cross, `StorageFailure` when the call fails).
 */
export const invokeActor = (
  namespace: ActorNamespace,
  kind: string,
  address: { readonly instance: string; readonly id: string },
  op: string,
  input?: unknown,
  caller?: Actor,
  options: CallOptions = {},
): Promise<unknown> => invokeTarget(namespace, actorTarget(kind, address), op, input, caller, options)

/** An actor as a call target: its kind, address and object name, made once by callers that call it often. */
export interface ActorTarget {
  readonly kind: string
  readonly address: { readonly instance: string; readonly id: string }
  readonly name: string
}

export const actorTarget = (kind: string, address: { readonly instance: string; readonly id: string }): ActorTarget => ({
  kind,
  address,
  name: objectName(address.instance, kind, address.id),
})

const asIs = <A>(value: A): A => value

/** The runtime's RPC promise is a thenable object (a callable one for pipelining, in some runtimes). */
const isThenable = (value: unknown): value is PromiseLike<unknown> =>
  value !== null && (typeof value === "object" || typeof value === "function") && typeof (value as PromiseLike<unknown>).then === "function"

/**
 * An actor request with the keys it had when built by spreads: `input` and `caller` only when given
 * (also what `ActorHost`'s session builds from `invokeOp`: the values are checked where it is decoded).
 */
export const requestOf = (address: ActorTarget["address"], op: string, input: unknown, caller: Actor | undefined): ActorRequest =>
  caller === undefined
    ? input === undefined
      ? { address, op }
      : { address, op, input }
    : input === undefined
      ? { address, op, caller }
      : { address, op, input, caller }

/**
 * The typed failure of a call that threw or rejected: its stub is forgotten in `stubs` (the runtime
 * has broken it for later calls). A module function, not a closure per call: the bundler names
 * every named closure (`__name`, an `Object.defineProperty`) each time it is made, ~5 µs a write.
 */
const callFailed = (namespace: ActorNamespace, target: ActorTarget, stubs: StubCache | undefined, cause: unknown) => {
  stubs?.forget(namespace, target.name)
  return new StorageFailure({ message: `call to ${target.kind} ${target.address.id} failed: ${cause instanceof Error ? cause.message : String(cause)}` })
}

/**
 * `invokeActor` for a target made once (`actorTarget`), answering `onAnswer(answer)`: the call's
 * own promise is chained once, with no `Promise.resolve` around the runtime's RPC promise (a
 * microtask and a promise less per call than chaining `then` after `catch`). Its callbacks are
 * anonymous arrows made per call (no `__name` for them) around module functions.
 */
export const invokeTarget = <A = unknown>(
  namespace: ActorNamespace,
  target: ActorTarget,
  op: string,
  input?: unknown,
  caller?: Actor,
  options: CallOptions = {},
  onAnswer: (answer: unknown) => A = asIs as (answer: unknown) => A,
): Promise<A> => {
  const { stubs } = options
  let plain: unknown
  try {
    plain = input === undefined || options.plain === true ? input : plainInput(input)
  } catch (error) {
    return Promise.reject(error instanceof InvalidInput ? error : new InvalidInput({ field: "input", message: `input: ${String(error).slice(0, 200)}` }))
  }
  try {
    const stub = stubOf(namespace, target.name, stubs) as ActorStub
    const state = options.session === true && stubs !== undefined ? sessionStateOf(stub, stubs, target.address) : undefined
    const onSession = state?.session !== undefined && state.onStub === 0
    // A session bound to the address takes the operation and its input alone (`HostSession.invokeOp`): one object and its strings less to send.
    const answer: unknown =
      onSession && state.addressed
        ? caller === undefined
          ? plain === undefined
            ? state.session!.invokeOp!(op)
            : state.session!.invokeOp!(op, plain)
          : state.session!.invokeOp!(op, plain, caller)
        : (onSession ? state.session! : stub).invoke(requestOf(target.address, op, plain, caller))
    // The runtime's RPC promise is a thenable; anything else (a plain value) is wrapped once.
    const pending = isThenable(answer) ? answer : Promise.resolve(answer)
    // Both callbacks given: the runtime's RPC promise refuses an `undefined` one.
    if (state === undefined || onSession)
      return Promise.resolve(
        pending.then(onAnswer, (cause: unknown) => {
          throw callFailed(namespace, target, stubs, cause)
        }),
      )
    state.onStub++
    return Promise.resolve(
      pending.then(
        (value) => {
          state.onStub--
          return onAnswer(value)
        },
        (cause: unknown) => {
          state.onStub--
          throw callFailed(namespace, target, stubs, cause)
        },
      ),
    )
  } catch (cause) {
    return Promise.reject(callFailed(namespace, target, stubs, cause))
  }
}

/** An object's RPC session (`ActorHost.session(address)`): `invoke` as on its stub; `invokeOp` with the session's address. */
interface SessionStub extends ActorStub {
  invokeOp?(op: string, input?: unknown, caller?: Actor): Promise<unknown>
}

/** Per stub (`CallOptions.session`): its session once open (`addressed`: it has `invokeOp`), and its own calls in flight. */
interface SessionState {
  session: SessionStub | undefined
  addressed: boolean
  asked: boolean
  onStub: number
}
const sessionStates = new WeakMap<object, SessionState>()
/** Per stub cache, its stubs whose session is open: what `endSessions` closes. */
const openSessions = new WeakMap<StubCache, Set<ActorStub>>()

/**
 * Close the RPC sessions opened through a stub cache (`CallOptions.session`); the next call on each
 * stub goes plain and asks for a new session. A session keeps the object that handed it out busy
 * (the runtime holds its side of the call open while the session is held), so an owner whose
 * stubs live long ends them when its calls pause. Call only while no call through these sessions
 * is in flight. Answers how many were closed.
 */
export const endSessions = (stubs: StubCache): number => {
  const open = openSessions.get(stubs)
  if (open === undefined) return 0
  let ended = 0
  for (const stub of open) {
    const state = sessionStates.get(stub)
    if (state?.session !== undefined) {
      const session = state.session as unknown as Record<symbol, unknown>
      state.session = undefined
      state.asked = false
      ended++
      try {
        // `Symbol.dispose` read untyped: the package builds against a library without explicit resource management.
        const dispose = (Symbol as unknown as { readonly dispose?: symbol }).dispose
        const release = dispose === undefined ? undefined : session[dispose]
        if (typeof release === "function") release.call(session)
      } catch {
        // Already broken (its object restarted): nothing left to release.
      }
    }
  }
  open.clear()
  return ended
}

/**
 * The session state of a stub; asks the object for a session on the stub's second call. An object
 * without sessions (or a stand-in without `session`) refuses or answers something without
 * `invoke`: its calls stay on the stub. A stub whose call threw is forgotten by its cache, and its
 * session with it.
 */
const sessionStateOf = (stub: ActorStub, stubs: StubCache, address: ActorTarget["address"]): SessionState => {
  const state = sessionStates.get(stub)
  if (state === undefined) {
    const first: SessionState = { session: undefined, addressed: false, asked: false, onStub: 0 }
    sessionStates.set(stub, first)
    return first
  }
  if (!state.asked) {
    state.asked = true
    let opened: unknown
    try {
      // The session is bound to the stub's actor: the object checks the address with each call's request, as `invoke` does.
      opened = (stub as unknown as { session(address: unknown): unknown }).session(address)
    } catch {
      // A stand-in without `session`: its calls stay on the stub.
    }
    const take = (session: unknown) => {
      if (session !== null && (typeof session === "object" || typeof session === "function") && typeof (session as { invoke?: unknown }).invoke === "function") {
        state.session = session as SessionStub
        // Any property of a runtime RPC stub is callable (an object without `invokeOp` would refuse the call); a stand-in's tells the truth.
        state.addressed = typeof (session as SessionStub).invokeOp === "function"
        let open = openSessions.get(stubs)
        if (open === undefined) openSessions.set(stubs, (open = new Set()))
        open.add(stub)
      }
    }
    if (isThenable(opened)) opened.then(take, () => undefined)
    else take(opened)
  }
  return state
}

/** The `Send` of one actor: its kind's namespace, its address, the caller to name, and how to call. */
export const actorSend =
  (namespace: ActorNamespace, kind: string, address: { readonly instance: string; readonly id: string }, caller?: Actor, options?: CallOptions): Send =>
  (op, input) =>
    sendToActor(namespace, kind, address, op, input, caller, options)

/** Call one declared operation on an actor and decode its answer with the declaration. */
export const callActor = <O extends Operations.Any>(
  namespace: ActorNamespace,
  kind: string,
  address: { readonly instance: string; readonly id: string },
  op: O,
  input?: Operations.PayloadEncoded<O>,
  caller?: Actor,
  options?: CallOptions,
): Effect.Effect<Operations.Success<O>, Operations.Failure<O>> => Operations.call(op, actorSend(namespace, kind, address, caller, options), input)

/**
 * Forward an HTTP request (WebSocket upgrade, SSE) to an actor's object, naming the actor in
 * headers. Any client-sent address headers are overwritten.
 */
export const forwardToActor = (
  namespace: ActorNamespace,
  kind: string,
  address: { readonly instance: string; readonly id: string },
  request: Request,
): Promise<Response> => {
  const stub = namespace.get(objectIdOf(namespace, objectName(address.instance, kind, address.id))) as { fetch(request: Request): Promise<Response> }
  const headers = new Headers(request.headers)
  headers.set(AddressHeaders.instance, address.instance)
  headers.set(AddressHeaders.id, address.id)
  return stub.fetch(new Request(request, { headers }))
}
