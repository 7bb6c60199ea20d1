/**
 * The Promise facade: the same operations as the `Realtime` service, for plain Worker handlers.
 *
 * Each method runs the very Effect the service builds and rejects with the same tagged error
 * instance (`error._tag === "RoomDestroyed"`, `error instanceof RoomDestroyed`).
 *
 * Inside a handler wrapped by `live.worker(...)`, the current request is ambient (AsyncLocalStorage),
 * so writes are attributed to the actor the instance's `identify` finds in it, without passing it around.
 *
 * @example
 * ```ts
 * import { realtime } from "durable-realtime"
 * export { RealtimeRoom, RealtimeChannel, RealtimeDirectory } from "durable-realtime/durable"
 *
 * const live = realtime({ name: "live", historyLimit: 500 })
 * export default live.worker({
 *   async fetch(request) {
 *     const { message } = await live.room("project_123").publish({ type: "task.created", data: {} })
 *     return Response.json(message)
 *   },
 * })
 * ```
 *
 * @since 0.1.0
 */
import { Effect, Layer } from "effect"
import { declareRealtime, isRealtimeDeclaration, type RealtimeDeclaration, type RealtimeOptions } from "./Config.js"
import { makeRealtime, Realtime, type ChannelHandle, type CrdtRoomHandle, type RealtimeService, type RoomHandle } from "./Realtime.js"
import type { RealtimeError } from "./RealtimeError.js"
import { workersEnv } from "./internal/workersEnv.js"
import { CurrentRequest } from "./services/Identity.js"
import { liveHandler } from "./http/LiveRoutes.js"
import { ambientRequest, ambientWorker, promised, runToPromise, runWithAmbientRequest, type Promised, type WorkerHandler } from "./internal/PromiseFacade.js"

export type { WorkerHandler }

export interface RealtimeFacade {
  readonly name: string
  readonly room: (id: string) => Promised<RoomHandle>
  readonly channel: (id: string) => Promised<ChannelHandle>
  /** A room with a Yjs document (`applyYjsUpdate`, `syncYjs`, `awareness`, `stream`, `compact`, snapshots). */
  readonly crdtRoom: (id: string) => Promised<CrdtRoomHandle>
  readonly stats: () => ReturnType<Promised<{ stats: RealtimeService["stats"] }>["stats"]>
  /** Run any Effect that needs `Realtime` with this instance, with the facade's rejection rules. */
  readonly run: <A>(effect: Effect.Effect<A, RealtimeError, Realtime>) => Promise<A>
  /** The Effect service of this instance, for Effect handlers. */
  readonly layer: Layer.Layer<Realtime>
  /** Wrap a Worker's fetch handler so the current request is ambient inside it. */
  readonly worker: <Env>(handler: WorkerHandler<Env>) => ExportedHandler<Env>
  /** Run `body` with `request` as the ambient current request. */
  readonly withRequest: <A>(request: Request, body: () => A) => A
  /**
   * The live routes (WebSocket and SSE for rooms and channels, grant verified first): resolves
   * `undefined` for any other path, so it composes with the rest of a Worker.
   */
  readonly handler: (request: Request, env?: unknown) => Promise<Response | undefined>
}

/**
 * The Promise facade of one instance. Given options, it declares the instance (call it at module
 * scope); given a declaration (`declareRealtime(...)` / `Realtime.declare(...)`), it uses that one.
 */
export const realtime = (
  declaration: RealtimeDeclaration | (RealtimeOptions & { readonly env?: Record<string, unknown> }),
  options: { readonly env?: Record<string, unknown> } = {},
): RealtimeFacade => {
  const declared = isRealtimeDeclaration(declaration) ? declaration : declareRealtime(declaration)
  const envOption = options.env ?? (isRealtimeDeclaration(declaration) ? undefined : declaration.env)
  const config = declared.config
  let service: RealtimeService | undefined
  const get = () => (service ??= makeRealtime(declared.config, envOption ?? workersEnv()))
  const layer = Layer.sync(Realtime, get)

  /** Every call runs with the ambient request as `CurrentRequest`, so `identify` attributes it. */
  const run = <A, E>(effect: Effect.Effect<A, E>): Promise<A> => {
    const request = ambientRequest()
    return runToPromise(request === undefined ? effect : Effect.provideService(effect, CurrentRequest, request))
  }

  return {
    name: declared.name,
    room: (id) => promised(() => get().room(id), run),
    channel: (id) => promised(() => get().channel(id), run),
    crdtRoom: (id) => promised(() => get().crdtRoom(id), run),
    stats: () => run(get().stats()),
    run: (effect) => run(Effect.provide(effect, layer)),
    layer,
    worker: (handler) => ambientWorker(handler),
    withRequest: runWithAmbientRequest,
    handler: liveHandler({ prefix: config.routePrefix }),
  }
}
