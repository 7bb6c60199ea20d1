/**
 * The Durable Object shell that hosts one actor.
 *
 * It owns no logic: it builds the actor's services and runtime once (storage migrations run inside
 * `blockConcurrencyWhile`), forwards RPC calls and alarms to the actor one message at a time, and
 * answers with a Schema-encoded `Exit`.
 *
 * The actor's address (instance and id) arrives with the first call and is stored, so an alarm
 * that wakes the object later can rebuild the same actor. The instance's options come from the
 * declarations this isolate made on import (`resolveInstance`); an object addressed for an
 * undeclared instance answers `InstanceNotDeclared` and logs it, and never boots with defaults.
 *
 * @since 0.1.0
 */
import { DurableObject, RpcTarget } from "cloudflare:workers"
import { Context, Effect, Either, Exit, Runtime, Schema } from "effect"
import { compileDecoder, UNDECIDED } from "../schema/CompiledDecoder.js"
import { instanceNotDeclared, lookupInstance, type ResolvedConfig } from "../Config.js"
import { InstanceNotDeclared, invalidInputFromParseError, InvalidInput, toResponse, type RealtimeError } from "../RealtimeError.js"
import { ActorContext, ObjectState, type ActorBehavior, type ActorKind } from "../actors/Actor.js"
import { ActorAddress as ActorAddressSchema, ActorRequest, AddressHeaders, type ActorAddress } from "../internal/ActorAddress.js"
import { metaMigration, readMetaSync, writeMeta } from "../storage/Meta.js"
import { DirectoryOps } from "../actors/Ops.js"
import { lookup } from "../internal/Operations.js"
import { callActor, encodeExit, requestOf, type ActorNamespace } from "../internal/rpc.js"
import * as Connections from "../sockets/Connections.js"
import * as Sockets from "../sockets/Sockets.js"
import { DirectoryClient } from "../services/Directory.js"
import * as Jobs from "../services/Jobs.js"
import * as Sql from "../services/Sql.js"
import * as JobStore from "../storage/JobStore.js"
import { addSqliteStores, type AnySqliteStore, type StoreServices } from "../storage/SqliteStores.js"

/** Every RPC to an actor carries an `ActorRequest`: decoded by a decoder compiled from its Schema (src/schema/CompiledDecoder.ts). */
const decodeRequestCompiled = compileDecoder(ActorRequest)

type Migration = { readonly name: string; readonly statements: ReadonlyArray<string> }

/** Services every hosted actor may use, besides the stores its kind declares. */
export type HostServices = Sql.Sql | Jobs.Jobs | Connections.Connections | Sockets.Sockets | DirectoryClient | ActorContext | ObjectState

export interface Hosted<Stores = never> {
  readonly runtime: Runtime.Runtime<HostServices | Stores>
  readonly behavior: ActorBehavior
  readonly mailbox: Effect.Semaphore
}

/**
 * `Stores`: the SQLite stores of this kind's actor (`SqliteStores.ts` descriptors); the actor may
 * use those and the host services, and its object builds nothing else.
 */
export abstract class ActorHost<Stores extends ReadonlyArray<AnySqliteStore> = ReadonlyArray<never>, Env = unknown> extends DurableObject<Env> {
  protected abstract readonly kind: ActorKind
  protected abstract readonly migrations: ReadonlyArray<Migration>
  protected abstract readonly stores: Stores
  protected abstract readonly makeActor: Effect.Effect<ActorBehavior, never, HostServices | StoreServices<Stores>>

  #hosted: Hosted<StoreServices<Stores>> | undefined
  // Mailbox entries queued or running: a synchronous fast path may run only when this is 0.
  #inMailbox = 0

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    ctx.blockConcurrencyWhile(async () => {
      const stored = this.storedAddress()
      if (stored === undefined) return
      const config = this.resolveInstance(stored)
      // Undeclared: logged by resolveInstance; every entry point answers the typed error.
      if (!(config instanceof InstanceNotDeclared)) await this.boot(stored, config)
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

  /**
   * The options of the instance an address names, from this isolate's declarations. Database
   * objects override it to look up their `db(...)` declaration instead.
   */
  protected resolveInstance(address: ActorAddress): ResolvedConfig | InstanceNotDeclared {
    return lookupInstance(address.instance) ?? instanceNotDeclared(address.instance, this.kind)
  }

  /**
   * The object's services, made directly into one Context, each over the ones before it, with only
   * the stores this kind declares. No Layers and no ManagedRuntime: each Layer a runtime builds
   * (its memo entry, scope, finalizer) stays in memory while the object is awake, ~4-17 KB of V8
   * heap apiece (bench/notes/idle-heap.md), and none of these services has anything to release.
   */
  private servicesFor(address: ActorAddress, config: ResolvedConfig): Effect.Effect<Context.Context<HostServices | StoreServices<Stores>>> {
    const { ctx, kind, stores } = this
    const env = this.env as Record<string, unknown>
    const directory = DirectoryClient.of({
      report: (entry) => {
        const namespace = env[config.bindings.directory] as ActorNamespace | undefined
        return namespace === undefined
          ? Effect.void
          : Effect.asVoid(callActor(namespace, "directory", { instance: address.instance, id: "directory" }, DirectoryOps.report, entry))
      },
    })
    return Effect.gen(function* () {
      const sql = Sql.makeSql(ctx.storage)
      const base = Context.make(Sql.Sql, sql).pipe(
        Context.add(Connections.Connections, Connections.makeHibernating(ctx)),
        Context.add(DirectoryClient, directory),
        Context.add(ActorContext, { kind, address, config }),
        Context.add(ObjectState, { ctx, env }),
      )
      const jobs = yield* Effect.provide(Jobs.make(Jobs.storageAlarm(ctx.storage)), Context.add(base, JobStore.JobStore, JobStore.makeSqlite(sql)))
      const withJobs = Context.add(base, Jobs.Jobs, jobs)
      // One socket layer per object, over the same Jobs and Connections the actor sees.
      const sockets = yield* Effect.provide(Sockets.make(ctx), withJobs)
      return addSqliteStores(Context.add(withJobs, Sockets.Sockets, sockets), sql, stores)
    })
  }

  /** Build the runtime and the actor, running migrations first. */
  private async boot(address: ActorAddress, config: ResolvedConfig): Promise<Hosted<StoreServices<Stores>>> {
    if (this.#hosted !== undefined) return this.#hosted
    const services = await Effect.runPromise(this.servicesFor(address, config))
    const runtime = Runtime.make({ context: services, fiberRefs: Runtime.defaultRuntime.fiberRefs, runtimeFlags: Runtime.defaultRuntime.runtimeFlags })
    const migrations = [metaMigration, Jobs.jobsMigration, ...this.migrations]
    const behavior = await Runtime.runPromise(runtime)(
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
  protected async hosted(address?: ActorAddress): Promise<Hosted<StoreServices<Stores>> | InstanceNotDeclared | undefined> {
    if (this.#hosted !== undefined) return this.#hosted
    const target = address ?? this.storedAddress()
    if (target === undefined) return undefined
    const config = this.resolveInstance(target)
    if (config instanceof InstanceNotDeclared) return config
    return this.ctx.blockConcurrencyWhile(() => this.boot(target, config))
  }

  /** Run an Effect inside the actor's mailbox: one message at a time. */
  protected async runInMailbox<A>(hosted: Hosted<StoreServices<Stores>>, effect: Effect.Effect<A, RealtimeError, HostServices>) {
    this.#inMailbox++
    try {
      return await Runtime.runPromiseExit(hosted.runtime)(hosted.mailbox.withPermits(1)(effect))
    } finally {
      this.#inMailbox--
    }
  }

  /**
   * An RPC session on this object: a target whose `invoke` is this object's own (overrides
   * included). A Worker request that calls the object again and again calls through it (see
   * `rpc.ts`, `CallOptions.session`): each call on a plain stub is a new incoming call here and a
   * new subrequest there (~20 µs of workerd's per write in the db benchmark), a call through a
   * session is one more message on the connection it opened.
   */
  session(address?: unknown): RpcTarget {
    return new HostSession(this, address)
  }

  /**
   * The RPC entry point: one operation, answered with an encoded Exit. When the actor is up, its
   * mailbox idle and the operation has a synchronous path that answers (`invokeNow`), the answer is
   * returned as a value, not a promise: the runtime hands it back without waiting another turn
   * (~10 % of a database write's CPU in the db benchmark, bench/notes/db.md).
   */
  invoke(raw: unknown): unknown {
    // The compiled decoder accepts what the Schema accepts; anything else is decided (and worded) by the Schema.
    const compiled = decodeRequestCompiled(raw)
    const decoded = compiled === UNDECIDED ? Schema.decodeUnknownEither(ActorRequest)(raw) : Either.right(compiled)
    if (decoded._tag === "Left") return encodeExit(Exit.fail(invalidInputFromParseError(decoded.left, "request")))
    const request = decoded.right
    const hosted = this.#hosted
    if (hosted !== undefined && this.#inMailbox === 0) {
      const now = hosted.behavior.invokeNow !== undefined && Object.hasOwn(hosted.behavior.invokeNow, request.op) ? hosted.behavior.invokeNow[request.op] : undefined
      const answered = now?.(request.input, request.caller)
      if (answered !== undefined) return encodeExit(answered)
    }
    return this.invokeQueued(request)
  }

  private async invokeQueued(request: ActorRequest): Promise<unknown> {
    const hosted = await this.hosted(request.address)
    if (hosted === undefined) return encodeExit(Exit.fail(new InvalidInput({ field: "address", message: "address: missing" })))
    if (hosted instanceof InstanceNotDeclared) return encodeExit(Exit.fail(hosted))
    const handler = lookup(hosted.behavior.operations, request.op)
    if (handler === undefined) {
      return encodeExit(Exit.fail(new InvalidInput({ field: "op", message: `op: ${this.kind} has no operation "${request.op}"` })))
    }
    // Booted just now, or its mailbox was busy a moment ago: the synchronous path may answer still.
    const now = this.#inMailbox === 0 && hosted.behavior.invokeNow !== undefined && Object.hasOwn(hosted.behavior.invokeNow, request.op) ? hosted.behavior.invokeNow[request.op] : undefined
    const answered = now?.(request.input, request.caller)
    if (answered !== undefined) return encodeExit(answered)
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
    if (hosted instanceof InstanceNotDeclared) return toResponse(hosted)
    const handler = hosted.behavior.fetch
    if (handler === undefined) return new Response(`durable-realtime: a ${this.kind} takes no HTTP requests`, { status: 404 })
    const exit = await this.runInMailbox(hosted, handler(request))
    return Exit.isSuccess(exit) ? exit.value : new Response("durable-realtime: internal error", { status: 500 })
  }

  override webSocketMessage(socket: WebSocket, message: string | ArrayBuffer): Promise<void> | undefined {
    // The hot path without a promise: the actor is up, its mailbox idle, and the frame handled
    // synchronously (an awaited promise per frame was a microtask and an async-trace event each).
    const hosted = this.#hosted
    const now = hosted?.behavior.webSocketMessageNow
    if (hosted === undefined || now === undefined || this.#inMailbox !== 0) return this.webSocketMessageQueued(socket, message)
    const rest = now(socket, message)
    return rest === undefined ? undefined : this.runInMailbox(hosted, rest).then(() => undefined)
  }

  private async webSocketMessageQueued(socket: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const hosted = await this.hosted()
    if (hosted === undefined || hosted instanceof InstanceNotDeclared) return
    const now = hosted.behavior.webSocketMessageNow
    if (now !== undefined && this.#inMailbox === 0) {
      const rest = now(socket, message)
      if (rest !== undefined) await this.runInMailbox(hosted, rest)
      return
    }
    const handler = hosted.behavior.webSocketMessage
    if (handler === undefined) return
    await this.runInMailbox(hosted, handler(socket, message))
  }

  override async webSocketClose(socket: WebSocket, code: number, reason: string, wasClean: boolean): Promise<void> {
    const hosted = await this.hosted()
    if (hosted === undefined || hosted instanceof InstanceNotDeclared) return
    const handler = hosted.behavior.webSocketClose
    if (handler === undefined) return
    await this.runInMailbox(hosted, handler(socket, code, reason, wasClean))
  }

  override async webSocketError(socket: WebSocket, error: unknown): Promise<void> {
    const hosted = await this.hosted()
    if (hosted === undefined || hosted instanceof InstanceNotDeclared) return
    const handler = hosted.behavior.webSocketError
    if (handler === undefined) return
    await this.runInMailbox(hosted, handler(socket, error))
  }

  /** Run due jobs. Alarms are at-least-once: every job handler is idempotent. */
  override async alarm(): Promise<void> {
    const hosted = await this.hosted()
    if (hosted === undefined) return
    // An alarm of an undeclared instance fails loudly (and is retried by the runtime).
    if (hosted instanceof InstanceNotDeclared) throw new Error(hosted.message)
    const exit = await this.runInMailbox(
      hosted,
      Effect.flatMap(Jobs.Jobs, (jobs) => jobs.runDue(hosted.behavior.jobs)),
    )
    if (Exit.isFailure(exit)) throw new Error(`alarm failed: ${exit.cause.toString()}`)
  }
}

/**
 * What `ActorHost.session(address)` hands out: `invoke`, answered by the host as a call on its stub
 * is, and `invokeOp(op, input, caller)`, the same request with the address the session was opened for
 * (the caller sends one object and its strings less per call; the request is decoded and checked
 * as any other, the address included).
 */
class HostSession extends RpcTarget {
  readonly #host: { invoke(raw: unknown): unknown }
  readonly #address: unknown
  constructor(host: { invoke(raw: unknown): unknown }, address: unknown) {
    super()
    this.#host = host
    this.#address = address
  }
  invoke(raw: unknown): unknown {
    return this.#host.invoke(raw)
  }
  invokeOp(op: unknown, input?: unknown, caller?: unknown): unknown {
    // Unchecked here: `invoke` decodes the request, the address included.
    return this.#host.invoke(requestOf(this.#address as Parameters<typeof requestOf>[0], op as string, input, caller as Parameters<typeof requestOf>[3]))
  }
}
