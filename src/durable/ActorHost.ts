/**
 * The Durable Object shell that hosts one actor.
 *
 * It owns no logic: it builds the actor's runtime from Layers once (storage migrations run inside
 * `blockConcurrencyWhile`), forwards RPC calls and alarms to the actor one message at a time, and
 * answers with a Schema-encoded `Exit`.
 *
 * The actor's address (instance and id) arrives with the first call and is stored, so an alarm
 * that wakes the object later can rebuild the same actor.
 *
 * @since 0.1.0
 */
import { DurableObject } from "cloudflare:workers"
import { Effect, Exit, Layer, ManagedRuntime, Schema } from "effect"
import { instanceConfig } from "../Config.js"
import { invalidInputFromParseError, InvalidInput, type RealtimeError } from "../RealtimeError.js"
import { ActorAddress as ActorAddressSchema, ActorContext, ActorRequest, AddressHeaders, ObjectState, type ActorAddress, type ActorBehavior, type ActorKind } from "../actors/Actor.js"
import { metaMigration, readMetaSync, writeMeta } from "../actors/Meta.js"
import { callActor, encodeExit, type ActorNamespace } from "../internal/rpc.js"
import * as Connections from "../services/Connections.js"
import { DirectoryClient } from "../services/Directory.js"
import * as Jobs from "../services/Jobs.js"
import * as Sql from "../services/Sql.js"

type Migration = { readonly name: string; readonly statements: ReadonlyArray<string> }

/** Services every hosted actor may use. */
export type HostServices = Sql.Sql | Jobs.Jobs | Connections.Connections | DirectoryClient | ActorContext | ObjectState

export interface Hosted {
  readonly runtime: ManagedRuntime.ManagedRuntime<HostServices, never>
  readonly behavior: ActorBehavior
  readonly mailbox: Effect.Semaphore
}

export abstract class ActorHost<Env = unknown> extends DurableObject<Env> {
  protected abstract readonly kind: ActorKind
  protected abstract readonly migrations: ReadonlyArray<Migration>
  protected abstract readonly makeActor: Effect.Effect<ActorBehavior, never, HostServices>

  #hosted: Hosted | undefined

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    ctx.blockConcurrencyWhile(async () => {
      const stored = this.storedAddress()
      if (stored !== undefined) await this.boot(stored)
    })
  }

  private storedAddress(): ActorAddress | undefined {
    try {
      return readMetaSync<ActorAddress>(this.ctx.storage, "address")
    } catch {
      // No _meta table yet: this object has never been used.
      return undefined
    }
  }

  private layerFor(address: ActorAddress): Layer.Layer<HostServices> {
    const config = instanceConfig(address.instance)
    const env = this.env as Record<string, unknown>
    const directory = Layer.succeed(DirectoryClient, {
      report: (entry) => {
        const namespace = env[config.bindings.directory] as ActorNamespace | undefined
        return namespace === undefined
          ? Effect.void
          : Effect.asVoid(callActor(namespace, "directory", { instance: address.instance, id: "directory" }, "report", entry))
      },
    })
    const sql = Sql.layer(this.ctx.storage)
    return Layer.mergeAll(
      sql,
      Jobs.layer(Jobs.storageAlarm(this.ctx.storage)).pipe(Layer.provide(sql)),
      Connections.layerHibernating(this.ctx),
      directory,
      Layer.succeed(ActorContext, { kind: this.kind, address, config }),
      Layer.succeed(ObjectState, { ctx: this.ctx, env }),
    )
  }

  /** Build the runtime and the actor, running migrations first. */
  private async boot(address: ActorAddress): Promise<Hosted> {
    if (this.#hosted !== undefined) return this.#hosted
    const runtime = ManagedRuntime.make(this.layerFor(address))
    const migrations = [metaMigration, Jobs.jobsMigration, ...this.migrations]
    const behavior = await runtime.runPromise(
      Effect.gen(this, function* () {
        const sql = yield* Sql.Sql
        yield* Effect.orDie(Sql.migrate(sql, migrations))
        yield* Effect.orDie(writeMeta(sql, "address", address))
        const behavior = yield* this.makeActor
        const jobs = yield* Jobs.Jobs
        yield* Effect.orDie(jobs.rearm)
        if (behavior.onWake) yield* Effect.orDie(behavior.onWake)
        return behavior
      }),
    )
    const mailbox = Effect.unsafeMakeSemaphore(1)
    this.#hosted = { runtime, behavior, mailbox }
    return this.#hosted
  }

  /** The hosted actor, booting it (once, with input gates closed) when first addressed. */
  protected async hosted(address?: ActorAddress): Promise<Hosted | undefined> {
    if (this.#hosted !== undefined) return this.#hosted
    const target = address ?? this.storedAddress()
    if (target === undefined) return undefined
    return this.ctx.blockConcurrencyWhile(() => this.boot(target))
  }

  /** Run an Effect inside the actor's mailbox: one message at a time. */
  protected runInMailbox<A>(hosted: Hosted, effect: Effect.Effect<A, RealtimeError, HostServices>) {
    return hosted.runtime.runPromiseExit(hosted.mailbox.withPermits(1)(effect))
  }

  /** The RPC entry point: one operation, answered with an encoded Exit. */
  async invoke(raw: unknown): Promise<unknown> {
    const decoded = Schema.decodeUnknownEither(ActorRequest)(raw)
    if (decoded._tag === "Left") return encodeExit(Exit.fail(invalidInputFromParseError(decoded.left, "request")))
    const request = decoded.right
    const hosted = await this.hosted(request.address)
    if (hosted === undefined) return encodeExit(Exit.fail(new InvalidInput({ field: "address", message: "address: missing" })))
    const handler = hosted.behavior.operations[request.op]
    if (handler === undefined) {
      return encodeExit(Exit.fail(new InvalidInput({ field: "op", message: `op: ${this.kind} has no operation "${request.op}"` })))
    }
    return encodeExit(await this.runInMailbox(hosted, handler(request.input, request.caller)))
  }

  /** HTTP requests forwarded by the Worker (WebSocket upgrades, SSE), addressed by headers. */
  override async fetch(request: Request): Promise<Response> {
    const named = Schema.decodeUnknownEither(ActorAddressSchema)({
      instance: request.headers.get(AddressHeaders.instance) ?? undefined,
      id: request.headers.get(AddressHeaders.id) ?? undefined,
    })
    const hosted = await this.hosted(named._tag === "Right" ? named.right : undefined)
    if (hosted === undefined) return new Response("durable-realtime: request has no actor address", { status: 400 })
    const handler = hosted.behavior.fetch
    if (handler === undefined) return new Response(`durable-realtime: a ${this.kind} takes no HTTP requests`, { status: 404 })
    const exit = await this.runInMailbox(hosted, handler(request))
    return Exit.isSuccess(exit) ? exit.value : new Response("durable-realtime: internal error", { status: 500 })
  }

  override async webSocketMessage(socket: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const hosted = await this.hosted()
    const handler = hosted?.behavior.webSocketMessage
    if (hosted === undefined || handler === undefined) return
    await this.runInMailbox(hosted, handler(socket, message))
  }

  override async webSocketClose(socket: WebSocket, code: number, reason: string, wasClean: boolean): Promise<void> {
    const hosted = await this.hosted()
    const handler = hosted?.behavior.webSocketClose
    if (hosted === undefined || handler === undefined) return
    await this.runInMailbox(hosted, handler(socket, code, reason, wasClean))
  }

  override async webSocketError(socket: WebSocket, error: unknown): Promise<void> {
    const hosted = await this.hosted()
    const handler = hosted?.behavior.webSocketError
    if (hosted === undefined || handler === undefined) return
    await this.runInMailbox(hosted, handler(socket, error))
  }

  /** Run due jobs. Alarms are at-least-once: every job handler is idempotent. */
  override async alarm(): Promise<void> {
    const hosted = await this.hosted()
    if (hosted === undefined) return
    const exit = await this.runInMailbox(
      hosted,
      Effect.flatMap(Jobs.Jobs, (jobs) => jobs.runDue(hosted.behavior.jobs)),
    )
    if (Exit.isFailure(exit)) throw new Error(`alarm failed: ${exit.cause.toString()}`)
  }
}
