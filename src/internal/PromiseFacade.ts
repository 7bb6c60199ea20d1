/**
 * What every Promise facade (`realtime(...)`, `db(...)`, `createRealtime(...)`) shares: running an
 * operation's Effect as a Promise that rejects with the typed error itself, handles whose methods
 * do that, and the ambient current request a wrapped Worker handler runs in.
 *
 * @since 0.1.0
 */
import { AsyncLocalStorage } from "node:async_hooks"
import { Cause, Effect, Exit, Option } from "effect"

/** A handle of Effect operations, as the Promise API a plain Worker handler calls. */
export type Promised<H> = { readonly [K in keyof H]: H[K] extends (...args: infer P) => Effect.Effect<infer A, infer _E> ? (...args: P) => Promise<A> : never }

/**
 * Run an Effect and settle like a Promise API: resolve the value, reject with the typed error
 * itself (so `error instanceof RoomDestroyed` and `error._tag` work), or with the squashed defect.
 */
export const runToPromise = <A, E>(effect: Effect.Effect<A, E>): Promise<A> => Effect.runPromiseExit(effect).then(settleExit)

/** An `Exit` settled as `runToPromise` settles: the value, else the typed error itself thrown, else the squashed defect. */
export const settleExit = <A, E>(exit: Exit.Exit<A, E>): A => {
  if (Exit.isSuccess(exit)) return exit.value
  const failure = Cause.failureOption(exit.cause)
  if (Option.isSome(failure)) throw failure.value
  throw Cause.squash(exit.cause)
}

/**
 * The Promise form of the handle `select` builds: each method runs the very Effect the handle
 * returns through `run`. `select` is called per call, so the service behind it is built lazily
 * (on the first call, inside a request, where the Worker's env exists).
 */
export const promised = <H extends object>(select: () => H, run: <A>(effect: Effect.Effect<A, unknown>) => Promise<A> = runToPromise): Promised<H> =>
  new Proxy({} as Promised<H>, {
    get: (_, key) => (...args: Array<unknown>) => run((select() as Record<PropertyKey, (...a: Array<unknown>) => Effect.Effect<unknown, unknown>>)[key](...args)),
  })

const ambient = new AsyncLocalStorage<Request>()

/** The request made ambient by a facade's `worker(...)` / `withRequest(...)`, if any. */
export const ambientRequest = (): Request | undefined => ambient.getStore()

/** Run `body` with `request` ambient (what `worker(...)` does for each request). */
export const runWithAmbientRequest = <A>(request: Request, body: () => A): A => ambient.run(request, body)

export interface WorkerHandler<Env> {
  fetch(request: Request, env: Env, ctx: ExecutionContext): Response | Promise<Response>
}

/**
 * A Worker's fetch handler with the request ambient inside it. `first` (a facade's own routes)
 * answers before the handler; `undefined` from it passes the request on.
 */
export const ambientWorker =
  <Env>(handler: WorkerHandler<Env>, first?: (request: Request, env: Env) => Promise<Response | undefined>): ExportedHandler<Env> => {
    const inner = (request: Request, env: Env, ctx: ExecutionContext) => runWithAmbientRequest(request, () => handler.fetch(request, env, ctx))
    if (first === undefined) return { fetch: (request, env, ctx) => inner(request, env as Env, ctx) }
    return { fetch: async (request, env, ctx) => (await first(request, env as Env)) ?? (await inner(request, env as Env, ctx)) }
  }
