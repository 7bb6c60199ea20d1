/**
 * Storage migrations of a database shard, derived from the declaration.
 *
 * On first use: `durable_realtime_001_schema` (every declared table and index), then
 * `durable_realtime_002_realtime` (the outbox table and its pending-rows index). The declared
 * schema is saved with each migration; when a later deploy declares a different schema, the
 * difference becomes the next numbered migration (`_003_schema`, ...). Only additive changes can
 * be applied in place (new tables, new nullable or defaulted columns, new or dropped indexes);
 * anything else (dropping a column, changing a type or a key) is refused with a message, never
 * half-applied. Applied migrations are recorded in `_migrations` by `Sql.migrate`.
 *
 * @since 0.1.0
 */
import type { ColumnSpec } from "../Columns.js"
import { sqlType } from "../Columns.js"
import type { DatabaseDefinition, ResolvedTable } from "../Declaration.js"
import { migrationName, OUTBOX_PENDING_INDEX, OUTBOX_TABLE, SQL_PREFIX } from "../Names.js"
import { fnv1a } from "../Placement.js"
import { ident, literal, toSql } from "../Rows.js"

export interface Migration {
  readonly name: string
  readonly statements: ReadonlyArray<string>
}

/** The declared schema as stored beside the migrations: tables → columns → spec. */
export type SchemaSnapshot = Record<string, Record<string, ColumnSpec>>

export const SCHEMA_META_KEY = "db_schema"

export const snapshotOf = (definition: DatabaseDefinition): SchemaSnapshot =>
  Object.fromEntries([...definition.tables.values()].map((table) => [table.name, Object.fromEntries(table.columns.map(([name, spec]) => [name, { ...spec }]))]))

const defaultClause = (spec: ColumnSpec) => {
  if (spec.default === undefined) return ""
  const value = toSql(spec, spec.default)
  return ` DEFAULT ${literal(value)}`
}

/**
 * A column's definition. In a table placed by a required filter (`scoped`), keys and unique
 * columns are unique per value of that filter (a table constraint, see `createTable`), not inline.
 */
const columnDefinition = (name: string, spec: ColumnSpec, scoped = false) =>
  scoped
    ? `${ident(name)} ${sqlType(spec.kind)}${spec.notNull || spec.primaryKey ? " NOT NULL" : ""}${defaultClause(spec)}`
    : `${ident(name)} ${sqlType(spec.kind)}${spec.primaryKey ? " PRIMARY KEY" : ""}${spec.notNull && !spec.primaryKey ? " NOT NULL" : ""}${spec.unique && !spec.primaryKey ? " UNIQUE" : ""}${defaultClause(spec)}`

/** Whether a table's keys are scoped to its first required filter (tenant-scoped uniqueness). */
export const tenantScoped = (table: ResolvedTable) => table.shardColumn !== table.primaryKey

const indexName = (table: string, column: string) => `${table}__${column}__idx`

const createIndex = (table: string, column: string) => `CREATE INDEX IF NOT EXISTS ${ident(indexName(table, column))} ON ${ident(table)} (${ident(column)})`

/**
 * A table's DDL. With required filters, the primary key and every unique column are unique per
 * value of the first required filter (`PRIMARY KEY (tenantId, id)`), so one tenant can neither
 * collide with nor learn of another tenant's ids on the same shard.
 */
export const createTable = (table: ResolvedTable): ReadonlyArray<string> => [
  tenantScoped(table)
    ? `CREATE TABLE IF NOT EXISTS ${ident(table.name)} (${[
        ...table.columns.map(([name, spec]) => columnDefinition(name, spec, true)),
        `PRIMARY KEY (${ident(table.shardColumn)}, ${ident(table.primaryKey)})`,
        ...table.columns.filter(([name, spec]) => spec.unique && !spec.primaryKey && name !== table.shardColumn).map(([name]) => `UNIQUE (${ident(table.shardColumn)}, ${ident(name)})`),
      ].join(", ")})`
    : `CREATE TABLE IF NOT EXISTS ${ident(table.name)} (${table.columns.map(([name, spec]) => columnDefinition(name, spec)).join(", ")})`,
  ...table.columns.filter(([, spec]) => spec.index && !spec.primaryKey).map(([name]) => createIndex(table.name, name)),
]

export const outboxStatements: ReadonlyArray<string> = [
  `CREATE TABLE IF NOT EXISTS ${OUTBOX_TABLE} (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    table_name TEXT NOT NULL,
    event TEXT NOT NULL,
    row_key TEXT NOT NULL,
    old_row TEXT,
    new_row TEXT,
    request_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    published_at INTEGER
  )`,
  `CREATE INDEX IF NOT EXISTS ${OUTBOX_PENDING_INDEX} ON ${OUTBOX_TABLE} (id) WHERE published_at IS NULL`,
]

/**
 * `durable_realtime_002_realtime_delivery`: what the drain needs to isolate hubs and bound batches
 * without reading row images: the target hubs and image size of each change (written with it),
 * and per change its delivery attempts, next retry, and when it was parked (with the last error).
 */
export const DELIVERY_MIGRATION = `${SQL_PREFIX}_002_realtime_delivery`
export const deliveryStatements: ReadonlyArray<string> = [
  `ALTER TABLE ${OUTBOX_TABLE} ADD COLUMN hubs TEXT`,
  `ALTER TABLE ${OUTBOX_TABLE} ADD COLUMN size INTEGER NOT NULL DEFAULT 0`,
  `ALTER TABLE ${OUTBOX_TABLE} ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0`,
  `ALTER TABLE ${OUTBOX_TABLE} ADD COLUMN retry_at INTEGER`,
  `ALTER TABLE ${OUTBOX_TABLE} ADD COLUMN parked_at INTEGER`,
  `ALTER TABLE ${OUTBOX_TABLE} ADD COLUMN error TEXT`,
]

/**
 * `durable_realtime_002_outbox_rowid`: the outbox without `AUTOINCREMENT`, which cost one
 * `sqlite_sequence` row write per change. Ids still never go back (hubs drop an id at or below the
 * last they applied): `prunePublished` always keeps the highest row, so SQLite's next rowid is
 * above every id ever used. An outbox whose highest rows were already pruned keeps its high water
 * as a published placeholder row (empty `table_name`) at the old sequence value.
 */
export const OUTBOX_ROWID_MIGRATION = `${SQL_PREFIX}_002_outbox_rowid`
const OUTBOX_COLUMNS = "id, table_name, event, row_key, old_row, new_row, request_id, created_at, published_at, hubs, size, attempts, retry_at, parked_at, error"
export const outboxRowidStatements: ReadonlyArray<string> = [
  `DROP TABLE IF EXISTS ${OUTBOX_TABLE}__rowid`,
  `CREATE TABLE ${OUTBOX_TABLE}__rowid (
    id INTEGER PRIMARY KEY,
    table_name TEXT NOT NULL,
    event TEXT NOT NULL,
    row_key TEXT NOT NULL,
    old_row TEXT,
    new_row TEXT,
    request_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    published_at INTEGER,
    hubs TEXT,
    size INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    retry_at INTEGER,
    parked_at INTEGER,
    error TEXT
  )`,
  `INSERT INTO ${OUTBOX_TABLE}__rowid (${OUTBOX_COLUMNS}) SELECT ${OUTBOX_COLUMNS} FROM ${OUTBOX_TABLE}`,
  `INSERT INTO ${OUTBOX_TABLE}__rowid (id, table_name, event, row_key, request_id, created_at, published_at)
    SELECT seq, '', 'insert', 'null', '', 0, 0 FROM sqlite_sequence WHERE name = '${OUTBOX_TABLE}' AND seq > (SELECT COALESCE(MAX(id), 0) FROM ${OUTBOX_TABLE})`,
  `DROP TABLE ${OUTBOX_TABLE}`,
  `ALTER TABLE ${OUTBOX_TABLE}__rowid RENAME TO ${OUTBOX_TABLE}`,
  `CREATE INDEX IF NOT EXISTS ${OUTBOX_PENDING_INDEX} ON ${OUTBOX_TABLE} (id) WHERE published_at IS NULL`,
]

/**
 * `durable_realtime_002_tenant_keys_<digest>`: tables created before keys were unique per tenant
 * (or before a table got its required filters) are rebuilt with the tenant-scoped DDL (copy, drop,
 * rename, indexes again). The digest names the scoped tables and their tenant columns, so a change
 * of them is a new migration. On a new database it runs over tables that are still empty. It runs
 * after any schema migration of the same boot, so the copy sees every declared column.
 */
export const tenantKeysMigration = (definition: DatabaseDefinition) =>
  `${SQL_PREFIX}_002_tenant_keys_${fnv1a(JSON.stringify([...definition.tables.values()].filter(tenantScoped).map((table) => [table.name, table.shardColumn, table.primaryKey]))).toString(16)}`
export const tenantKeysStatements = (definition: DatabaseDefinition): ReadonlyArray<string> =>
  [...definition.tables.values()].filter(tenantScoped).flatMap((table) => {
    const staging = `${table.name}__tenant_keys`
    const columns = table.columns.map(([name]) => ident(name)).join(", ")
    // The staging table without its indexes: they are made under their own names after the rename.
    const [create, ...indexes] = createTable(table)
    return [
      `DROP TABLE IF EXISTS ${ident(staging)}`,
      create.replace(`CREATE TABLE IF NOT EXISTS ${ident(table.name)} (`, `CREATE TABLE ${ident(staging)} (`),
      `INSERT INTO ${ident(staging)} (${columns}) SELECT ${columns} FROM ${ident(table.name)}`,
      `DROP TABLE ${ident(table.name)}`,
      `ALTER TABLE ${ident(staging)} RENAME TO ${ident(table.name)}`,
      ...indexes,
    ]
  })

const saveSnapshot = (snapshot: SchemaSnapshot) =>
  `INSERT INTO _meta (key, value) VALUES (${literal(SCHEMA_META_KEY)}, ${literal(JSON.stringify(snapshot))}) ON CONFLICT(key) DO UPDATE SET value = excluded.value`

const sameShape = (a: ColumnSpec, b: ColumnSpec) =>
  a.kind === b.kind && a.primaryKey === b.primaryKey && a.notNull === b.notNull && a.unique === b.unique

/** The statements turning `stored` into `current`, or the reason it cannot be done in place. */
export const diffSchema = (stored: SchemaSnapshot, definition: DatabaseDefinition): { readonly statements: ReadonlyArray<string> } | { readonly refused: string } => {
  const statements: Array<string> = []
  for (const name of Object.keys(stored)) {
    if (!definition.tables.has(name)) return { refused: `table ${name} was removed from the declaration; dropping tables is not done automatically` }
  }
  for (const table of definition.tables.values()) {
    const before = stored[table.name]
    if (before === undefined) {
      statements.push(...createTable(table))
      continue
    }
    const now = new Map(table.columns)
    for (const column of Object.keys(before)) {
      if (!now.has(column)) return { refused: `column ${table.name}.${column} was removed; dropping columns is not done automatically` }
    }
    for (const [column, spec] of table.columns) {
      const old = before[column]
      if (old === undefined) {
        if (spec.primaryKey || spec.unique) return { refused: `new column ${table.name}.${column} cannot be a primary key or unique in place` }
        if (spec.notNull && spec.default === undefined) return { refused: `new column ${table.name}.${column} is notNull without a default` }
        statements.push(`ALTER TABLE ${ident(table.name)} ADD COLUMN ${columnDefinition(column, spec)}`)
        if (spec.index) statements.push(createIndex(table.name, column))
        continue
      }
      if (!sameShape(old, spec)) return { refused: `column ${table.name}.${column} changed type or constraints; only additive changes are applied` }
      if (spec.index && !old.index) statements.push(createIndex(table.name, column))
      if (!spec.index && old.index) statements.push(`DROP INDEX IF EXISTS ${ident(indexName(table.name, column))}`)
    }
  }
  return { statements }
}

/**
 * The migrations to hand to `Sql.migrate`, given what is already applied and the stored schema.
 * Already-applied names are skipped by `Sql.migrate` itself.
 */
export const planMigrations = (
  definition: DatabaseDefinition,
  applied: ReadonlyArray<string>,
  stored: SchemaSnapshot | undefined,
): { readonly migrations: ReadonlyArray<Migration> } | { readonly refused: string } => {
  const current = snapshotOf(definition)
  const first = migrationName(1, "schema")
  const realtime = migrationName(2, "realtime")
  if (!applied.includes(first)) {
    const tables = [...definition.tables.values()].flatMap(createTable)
    return {
      migrations: [
        { name: first, statements: [...tables, saveSnapshot(current)] },
        { name: realtime, statements: outboxStatements },
        { name: DELIVERY_MIGRATION, statements: deliveryStatements },
        { name: OUTBOX_ROWID_MIGRATION, statements: outboxRowidStatements },
        { name: tenantKeysMigration(definition), statements: tenantKeysStatements(definition) },
      ],
    }
  }
  const migrations: Array<Migration> = [
    { name: realtime, statements: outboxStatements },
    { name: DELIVERY_MIGRATION, statements: deliveryStatements },
    { name: OUTBOX_ROWID_MIGRATION, statements: outboxRowidStatements },
  ]
  if (stored !== undefined && JSON.stringify(stored) !== JSON.stringify(current)) {
    const diff = diffSchema(stored, definition)
    if ("refused" in diff) return diff
    // The next number after the highest numbered schema/realtime migration (never below 3).
    const numbers = applied.map((name) => Number(new RegExp(`^${SQL_PREFIX}_(\\d{3})_(schema|realtime)$`).exec(name)?.[1] ?? 0))
    const next = Math.max(2, ...numbers) + 1
    migrations.push({ name: migrationName(next, "schema"), statements: [...diff.statements, saveSnapshot(current)] })
  }
  migrations.push({ name: tenantKeysMigration(definition), statements: tenantKeysStatements(definition) })
  return { migrations }
}
