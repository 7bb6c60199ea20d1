/**
 * `db({ name, schema, realtime, shards })`: the declaration of a database, validated when it is
 * made (at module load), so a mistake fails the deploy rather than the first request.
 *
 * Validation refuses, with a message naming the table and column: a table without exactly one
 * primary key, a realtime config for an undeclared table, a filter on an undeclared (or JSON)
 * column, a required filter that is not among the filters or may be null, a `key` column that
 * does not identify a row, unknown events, names that are not plain SQL identifiers.
 *
 * Declarations are registered in the isolate by `namespace/name` when `db(...)` runs at module
 * scope, so the shard and hub Durable Objects find the schema without it crossing RPC, in whatever
 * isolate they run, as long as their script imports the module that declares the database. An
 * object addressed for a database its isolate never declared answers `InstanceNotDeclared`.
 *
 * @since 0.1.0
 */
import { resolveConfig, type ResolvedConfig } from "../Config.js"
import { InstanceNotDeclared, InvalidInput } from "../RealtimeError.js"
import type { ColumnSpec } from "./Columns.js"
import { DEFAULT_MAX_ROW_BYTES, MAX_ROW_BYTES_LIMIT } from "./Guards.js"
import { specsOf, type Table } from "./Table.js"

export type ChangeEvent = "insert" | "update" | "delete"
export const ALL_EVENTS: ReadonlyArray<ChangeEvent> = ["insert", "update", "delete"]

export interface RealtimeTableOptions<Column extends string = string> {
  /** Events streamed to subscribers. Default all three. */
  readonly events?: ReadonlyArray<ChangeEvent>
  /** Columns a subscriber may filter on (equality). Default none. */
  readonly filters?: ReadonlyArray<Column>
  /** Filters every subscription must set; they also partition the table's hubs and place rows in shards. */
  readonly requiredFilters?: ReadonlyArray<Column>
  /** The column whose value is a change's `key`. Default the primary key. */
  readonly key?: Column
  /** `"private"` (default): a grant is needed. `"public"`: anyone may subscribe (filters still apply). */
  readonly access?: "private" | "public"
  /**
   * Where the table's change streams live. `"hub"` (default): one table hub object per partition,
   * fed by the shards over RPC. `"shard"`: in the shard object that holds the partition's rows, so
   * a write is delivered in its own turn with no second hop; subscribers of every partition placed
   * on a shard then share that shard's thread with its writes. Needs a required filter (every
   * partition's rows then live in one shard) or a single-shard database.
   */
  readonly streamFrom?: "hub" | "shard"
}

export type Schemas = Readonly<Record<string, Table>>

export interface DbOptions<S extends Schemas = Schemas> {
  /** The database name (a `[A-Za-z0-9_-]` word). */
  readonly name: string
  /** Groups databases (an app or environment). Default `"default"`. */
  readonly namespace?: string
  readonly schema: S
  readonly realtime?: {
    readonly tables: { readonly [K in keyof S]?: RealtimeTableOptions<keyof S[K]["columns"] & string> | true }
  }
  /** Number of shard Durable Objects rows are spread over. Default 1. Changing it moves no rows: choose it once. */
  readonly shards?: number
  /** Recent changes each hub keeps for `since` resume. Default 1,000. */
  readonly bufferSize?: number
  /** And at most this much of them (JSON length of the changes): large rows cannot fill a hub's storage. Default 64 MiB. */
  readonly bufferBytes?: number
  /** Path of the change-stream route. Default `/realtime-db`. */
  readonly routePath?: string
  /**
   * Largest row, as the UTF-8 size of its JSON encoding. Larger inserts and updates fail with
   * `PayloadTooLarge` (413) and store nothing. Default 1 MiB, at most 8 MiB.
   */
  readonly maxRowBytes?: number
  /**
   * Origin of the change-stream URL in grants (`https://api.example.com` → `wss://api.example.com/realtime-db?...`)
   * when no request is ambient; default: the ambient request's origin, else a path-only URL.
   */
  readonly publicUrl?: string
  /**
   * Delivery attempts of one change to its hub (sent alone, with backoff) before it is parked and
   * its subscribers get a `resync` frame with `reason: "gap"`. Default 8.
   */
  readonly deliveryAttempts?: number
  /** Binding names of the two Durable Object namespaces. */
  readonly bindings?: { readonly shards?: string; readonly hubs?: string }
}

export interface ResolvedRealtime {
  readonly events: ReadonlyArray<ChangeEvent>
  readonly filters: ReadonlyArray<string>
  readonly requiredFilters: ReadonlyArray<string>
  readonly key: string
  readonly access: "private" | "public"
  /** Where the streams live: table hub objects, or the shard objects themselves (single-source partitions). */
  readonly streamFrom: "hub" | "shard"
}

export interface ResolvedTable {
  readonly name: string
  readonly table: Table
  readonly columns: ReadonlyArray<readonly [string, ColumnSpec]>
  readonly primaryKey: string
  /** The column whose value places a row in a shard: the first required filter, else the primary key. */
  readonly shardColumn: string
  readonly realtime: ResolvedRealtime | undefined
}

export interface DatabaseDefinition {
  readonly name: string
  readonly namespace: string
  /** `namespace/name`: the actor instance of this database's shards and hubs. */
  readonly instance: string
  readonly tables: ReadonlyMap<string, ResolvedTable>
  readonly shards: number
  readonly bufferSize: number
  readonly bufferBytes: number
  readonly routePath: string
  readonly maxRowBytes: number
  readonly deliveryAttempts: number
  readonly publicUrl: string | undefined
  readonly bindings: { readonly shards: string; readonly hubs: string }
}

export const DEFAULT_DELIVERY_ATTEMPTS = 8
export const DEFAULT_ROUTE_PATH = "/realtime-db"
export const DEFAULT_BINDINGS = { shards: "REALTIME_DB_SHARDS", hubs: "REALTIME_TABLE_HUBS" } as const

const WORD = /^[A-Za-z0-9_-]{1,64}$/
const IDENTIFIER = /^[A-Za-z][A-Za-z0-9_]{0,62}$/
const RESERVED = /^(sqlite_|durable_realtime)/i

const refuse = (field: string, message: string): never => {
  throw new InvalidInput({ field, message: `${field}: ${message}` })
}

const resolveTable = (name: string, table: Table, realtime: RealtimeTableOptions | true | undefined, shards: number): ResolvedTable => {
  if (!IDENTIFIER.test(name) || RESERVED.test(name)) refuse(`schema.${name}`, "table names are letters, digits and _ (starting with a letter), not sqlite_* or durable_realtime*")
  if (table === null || typeof table !== "object" || typeof table.columns !== "object") refuse(`schema.${name}`, "must be a table(...) declaration")
  const columns = specsOf(table)
  if (columns.length === 0) refuse(`schema.${name}`, "declares no columns")
  for (const [column] of columns) {
    if (!IDENTIFIER.test(column)) refuse(`schema.${name}.${column}`, "column names are letters, digits and _ (starting with a letter)")
  }
  const keys = columns.filter(([, spec]) => spec.primaryKey)
  if (keys.length !== 1) refuse(`schema.${name}`, keys.length === 0 ? "has no primary key (mark one column .primaryKey())" : `has ${keys.length} primary keys; exactly one is supported`)
  const [primaryKey, keySpec] = keys[0]
  if (keySpec.kind !== "text" && keySpec.kind !== "integer") refuse(`schema.${name}.${primaryKey}`, "a primary key is a text() or integer() column")
  const specOf = new Map(columns)
  const options: RealtimeTableOptions | undefined = realtime === true ? {} : realtime
  if (options === undefined) return { name, table, columns, primaryKey, shardColumn: primaryKey, realtime: undefined }
  const field = `realtime.tables.${name}`
  const events = options.events ?? ALL_EVENTS
  if (!Array.isArray(events) || events.length === 0 || events.some((event) => !ALL_EVENTS.includes(event))) {
    refuse(`${field}.events`, `must be a non-empty list of ${ALL_EVENTS.join(", ")}`)
  }
  const filters = options.filters ?? []
  for (const column of filters) {
    const spec = specOf.get(column)
    if (spec === undefined) refuse(`${field}.filters`, `filter on undeclared column "${column}" (table ${name} has ${[...specOf.keys()].join(", ")})`)
    if (spec!.kind === "json") refuse(`${field}.filters`, `"${column}" is a json column; filters compare scalar values`)
  }
  const requiredFilters = options.requiredFilters ?? []
  for (const column of requiredFilters) {
    if (!filters.includes(column)) refuse(`${field}.requiredFilters`, `"${column}" is not in filters [${filters.join(", ")}]; required filters must be a subset of filters`)
    if (!specOf.get(column)!.notNull) refuse(`${field}.requiredFilters`, `"${column}" may be null; a required filter column must be .notNull()`)
  }
  const key = options.key ?? primaryKey
  const keyColumn = specOf.get(key)
  if (keyColumn === undefined) refuse(`${field}.key`, `undeclared column "${key}"`)
  if (!keyColumn!.primaryKey && !(keyColumn!.unique && keyColumn!.notNull)) refuse(`${field}.key`, `"${key}" must identify a row: the primary key or a .notNull().unique() column`)
  const access = options.access ?? "private"
  if (access !== "private" && access !== "public") refuse(`${field}.access`, `must be "private" or "public"`)
  const streamFrom = options.streamFrom ?? "hub"
  if (streamFrom !== "hub" && streamFrom !== "shard") refuse(`${field}.streamFrom`, `must be "hub" or "shard"`)
  // A partition hosted in a shard must get every change from that shard: the first required filter
  // places the rows (and cannot change in an update), or there is only one shard.
  if (streamFrom === "shard" && requiredFilters.length === 0 && shards > 1) {
    refuse(`${field}.streamFrom`, `"shard" needs a required filter (or shards: 1): without one, the changes of ${name} come from every shard`)
  }
  return {
    name,
    table,
    columns,
    primaryKey,
    shardColumn: requiredFilters[0] ?? primaryKey,
    realtime: { events: [...new Set(events)], filters: [...new Set(filters)], requiredFilters: [...new Set(requiredFilters)], key, access, streamFrom },
  }
}

/** Validate a declaration; throws `InvalidInput` with a message naming what is wrong. */
export const resolveDeclaration = (options: DbOptions): DatabaseDefinition => {
  if (typeof options.name !== "string" || !WORD.test(options.name)) refuse("name", "a database name is 1-64 letters, digits, _ or -")
  const namespace = options.namespace ?? "default"
  if (!WORD.test(namespace)) refuse("namespace", "a namespace is 1-64 letters, digits, _ or -")
  const shards = options.shards ?? 1
  if (!Number.isInteger(shards) || shards < 1 || shards > 1024) refuse("shards", "must be an integer from 1 to 1024")
  const bufferSize = options.bufferSize ?? 1_000
  if (!Number.isInteger(bufferSize) || bufferSize < 1 || bufferSize > 100_000) refuse("bufferSize", "must be an integer from 1 to 100,000")
  const realtimeTables = (options.realtime?.tables ?? {}) as Record<string, RealtimeTableOptions | true | undefined>
  for (const name of Object.keys(realtimeTables)) {
    if (!(name in options.schema)) refuse(`realtime.tables.${name}`, `no table "${name}" in schema`)
  }
  const tables = new Map<string, ResolvedTable>()
  for (const [name, table] of Object.entries(options.schema)) tables.set(name, resolveTable(name, table, realtimeTables[name], shards))
  if (tables.size === 0) refuse("schema", "declares no tables")
  const routePath = options.routePath ?? DEFAULT_ROUTE_PATH
  if (!/^\/[A-Za-z0-9_\-/]*$/.test(routePath)) refuse("routePath", "must be a path such as /realtime-db")
  const bufferBytes = options.bufferBytes ?? 64 * 1_048_576
  if (!Number.isInteger(bufferBytes) || bufferBytes < 65_536 || bufferBytes > 1_073_741_824) refuse("bufferBytes", "must be an integer from 65,536 to 1 GiB")
  const maxRowBytes = options.maxRowBytes ?? DEFAULT_MAX_ROW_BYTES
  if (!Number.isInteger(maxRowBytes) || maxRowBytes < 1_024 || maxRowBytes > MAX_ROW_BYTES_LIMIT) refuse("maxRowBytes", `must be an integer from 1,024 to ${MAX_ROW_BYTES_LIMIT}`)
  const deliveryAttempts = options.deliveryAttempts ?? DEFAULT_DELIVERY_ATTEMPTS
  if (!Number.isInteger(deliveryAttempts) || deliveryAttempts < 1 || deliveryAttempts > 100) refuse("deliveryAttempts", "must be an integer from 1 to 100")
  const publicUrl = options.publicUrl
  if (publicUrl !== undefined && !/^(https?|wss?):\/\/[^/?#\s]+\/?$/.test(publicUrl)) refuse("publicUrl", "must be an origin such as https://api.example.com")
  return {
    name: options.name,
    namespace,
    instance: `${namespace}/${options.name}`,
    tables,
    shards,
    bufferSize,
    bufferBytes,
    routePath,
    maxRowBytes,
    deliveryAttempts,
    publicUrl,
    bindings: { ...DEFAULT_BINDINGS, ...options.bindings },
  }
}

const registry = new Map<string, DatabaseDefinition>()

export const registerDatabase = (definition: DatabaseDefinition): void => {
  registry.set(definition.instance, definition)
}

/** The definition registered under `namespace/name` in this isolate. */
export const databaseDefinition = (instance: string): DatabaseDefinition | undefined => registry.get(instance)

/**
 * What a shard or hub object runs with: the live options it is given are the defaults named by the
 * database (database actors read their declaration, never live options), and only once the
 * declaration is found in this isolate; otherwise the loud `InstanceNotDeclared`.
 */
export const databaseInstance = (instance: string, kind: string): ResolvedConfig | InstanceNotDeclared => {
  if (registry.has(instance)) return resolveConfig({ name: instance })
  const known = [...registry.keys()]
  const error = new InstanceNotDeclared({
    instance,
    kind,
    message:
      `durable-realtime/db: no database "${instance}" is declared in this isolate (a ${kind} was addressed for it). ` +
      `Call db({...}) at module scope in a module the Durable Object's script imports` +
      (known.length > 0 ? `; declared here: ${known.join(", ")}` : "; no database is declared here"),
  })
  console.error(error.message)
  return error
}
