/**
 * `db({ name, schema, realtime, shards })`: declare a database and get its Promise API, the same
 * operations as the Effect API (`database.effect`), rejecting with the same typed errors.
 *
 * @example
 * ```ts
 * import { db, table, text } from "durable-realtime/db"
 * export { RealtimeDbShard, RealtimeTableHub } from "durable-realtime/durable"
 *
 * const database = db({
 *   name: "app",
 *   schema: { posts: table({ id: text().primaryKey(), tenantId: text().notNull().index(), title: text().notNull() }) },
 *   realtime: { tables: { posts: { filters: ["tenantId"], requiredFilters: ["tenantId"] } } },
 * })
 * await database.table("posts").insert({ id: "p1", tenantId: "t1", title: "Hello" })
 * const grant = await database.realtime.authorize({ table: "posts", filters: { tenantId: "t1" }, actor: { type: "user", id: "u1" } })
 * ```
 * @since 0.1.0
 */
import { workersEnv } from "../internal/workersEnv.js"
import { ambientWorker, promised, runToPromise, runWithAmbientRequest, type Promised, type WorkerHandler } from "../internal/PromiseFacade.js"
import { dbHandler } from "./DbRoutes.js"
import { makeDatabase, makeWritesNow, type DatabaseService, type TableHandle } from "./Database.js"
import { registerDatabase, resolveDeclaration, type DatabaseDefinition, type DbOptions, type Schemas } from "./Declaration.js"

export interface RealtimeDatabase<S extends Schemas> {
  readonly name: string
  readonly namespace: string
  readonly definition: DatabaseDefinition
  /** The Effect API over the Worker's env. */
  readonly effect: DatabaseService<S>
  readonly table: <K extends keyof S & string>(name: K) => Promised<TableHandle<S[K]>>
  readonly transaction: Promised<Pick<DatabaseService<S>, "transaction">>["transaction"]
  readonly realtime: Promised<DatabaseService<S>["realtime"]>
  readonly outbox: Promised<Pick<DatabaseService<S>, "outbox">>["outbox"]
  /** The change-stream route: answers `routePath`, resolves `undefined` for other paths. */
  readonly handler: (request: Request, env?: unknown) => Promise<Response | undefined>
  /**
   * Wrap a Worker's fetch handler: the change-stream route is answered first, and inside `fetch` the
   * request is ambient, so `realtime.authorize(...)` returns a `wss://` URL on the request's origin.
   */
  readonly worker: <Env>(handler: WorkerHandler<Env>) => ExportedHandler<Env>
  /** Run `body` with `request` ambient (for routers that do not use `worker(...)`). */
  readonly withRequest: <A>(request: Request, body: () => A) => A
}

export const db = <S extends Schemas>(options: DbOptions<S> & { readonly env?: Record<string, unknown> }): RealtimeDatabase<S> => {
  const definition = resolveDeclaration(options)
  registerDatabase(definition)
  const handler = dbHandler({ path: definition.routePath })
  let service: DatabaseService<S> | undefined
  const get = () => (service ??= makeDatabase<S>(definition, options.env ?? workersEnv()))
  let writesNow: ReturnType<typeof makeWritesNow> | undefined
  /**
   * A table's Promise handle: one-row writes on their direct path (`makeWritesNow`: no Effect fiber
   * per call, the same checks, answers and typed rejections), every other method through its Effect.
   */
  const tableHandle = <K extends keyof S & string>(name: K): Promised<TableHandle<S[K]>> => {
    const handle = promised(() => get().table(name))
    // Made on the first call, as the Effect service is: inside a request, where the Worker's env exists.
    let writes: ReturnType<ReturnType<typeof makeWritesNow>> | undefined
    const direct = () => (writes ??= (writesNow ??= makeWritesNow(definition, options.env ?? workersEnv()))(name))
    return {
      insert: (row, opts) => direct().insert(row, opts),
      update: (where, patch, opts) => direct().update(where, patch, opts),
      delete: (where, opts) => direct().delete(where, opts),
      insertMany: (rows, opts) => handle.insertMany(rows, opts),
      get: (where) => handle.get(where),
      select: (query) => handle.select(query),
    } as Promised<TableHandle<S[K]>>
  }
  return {
    name: definition.name,
    namespace: definition.namespace,
    definition,
    get effect() {
      return get()
    },
    table: tableHandle,
    transaction: (shardKey, writes, opts) => runToPromise(get().transaction(shardKey, writes, opts)),
    realtime: promised(() => get().realtime),
    outbox: (shard) => runToPromise(get().outbox(shard)),
    handler,
    worker: (inner) => ambientWorker(inner, handler),
    withRequest: runWithAmbientRequest,
  }
}
