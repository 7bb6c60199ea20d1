/**
 * `select({ where, limit, order, cursor })`: equality filters, keyset pagination.
 *
 * Order is by one not-null column (default the primary key), ties broken by the primary key, so a
 * cursor (the last row's order value and primary key, base64url JSON) resumes exactly after the
 * last row returned even while rows are written. Across shards, each shard answers a page and the
 * pages are merged in the same order.
 *
 * @since 0.1.0
 */
import { Effect, Schema } from "effect"
import { InvalidInput, invalidInputFromParseError } from "../RealtimeError.js"
import type { SqlValue } from "../services/Sql.js"
import type { ResolvedTable } from "./Declaration.js"
import { FilterValue } from "./Protocol.js"
import { decodeRow, ident, selectList, toSql, type DbRow } from "./Rows.js"

export const MAX_LIMIT = 1_000

export const SelectQuery = Schema.Struct({
  where: Schema.optional(Schema.Record({ key: Schema.String, value: FilterValue })),
  limit: Schema.optionalWith(Schema.Number.pipe(Schema.int(), Schema.between(1, MAX_LIMIT)), { default: () => 100 }),
  order: Schema.optional(Schema.Struct({ column: Schema.String, direction: Schema.optionalWith(Schema.Literal("asc", "desc"), { default: () => "asc" as const }) })),
  cursor: Schema.optional(Schema.NullOr(Schema.String)),
})
export type SelectQuery = typeof SelectQuery.Type

export interface Page {
  readonly rows: ReadonlyArray<DbRow>
  readonly nextCursor: string | null
}

/**
 * A cursor is the last row's `[order value, primary key]`, plus its first required filter's value
 * when keys are unique per tenant (two tenants' rows may share a primary key on one shard).
 */
const encodeCursor = (table: ResolvedTable, column: string, row: DbRow) =>
  btoa(JSON.stringify([row[column], row[table.primaryKey], ...(table.shardColumn === table.primaryKey ? [] : [row[table.shardColumn]])]))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "")

const decodeCursor = (table: ResolvedTable, cursor: string): Effect.Effect<ReadonlyArray<unknown>, InvalidInput> =>
  Effect.try({
    try: () => {
      const parsed = JSON.parse(atob(cursor.replace(/-/g, "+").replace(/_/g, "/")))
      if (!Array.isArray(parsed) || parsed.length !== (table.shardColumn === table.primaryKey ? 2 : 3)) throw new Error("shape")
      return parsed as ReadonlyArray<unknown>
    },
    catch: () => new InvalidInput({ field: "cursor", message: "cursor: not a cursor returned by select" }),
  })

/** Decode equality filters against the table: declared columns, values of the column's type. */
export const decodeWhere = (table: ResolvedTable, where: Record<string, unknown>, field = "where"): Effect.Effect<Record<string, unknown>, InvalidInput> =>
  Effect.gen(function* () {
    const specs = new Map(table.columns)
    const decoded: Record<string, unknown> = {}
    for (const [column, value] of Object.entries(where)) {
      const spec = specs.get(column)
      if (spec === undefined) return yield* new InvalidInput({ field: `${field}.${column}`, message: `${field}.${column}: ${table.name} has no column "${column}"` })
      if (spec.kind === "json") return yield* new InvalidInput({ field: `${field}.${column}`, message: `${field}.${column}: json columns cannot be compared` })
      if (value === null) {
        decoded[column] = null
        continue
      }
      const column_ = table.table.columns[column]
      decoded[column] = yield* Effect.mapError(Schema.decodeUnknown(column_.schema)(value), (error) => invalidInputFromParseError(error, `${field}.${column}`))
    }
    return decoded
  })

interface Ordering {
  readonly column: string
  readonly direction: "asc" | "desc"
}

export const orderingOf = (table: ResolvedTable, query: SelectQuery): Effect.Effect<Ordering, InvalidInput> => {
  const column = query.order?.column ?? table.primaryKey
  const spec = new Map(table.columns).get(column)
  if (spec === undefined) return Effect.fail(new InvalidInput({ field: "order.column", message: `order.column: ${table.name} has no column "${column}"` }))
  if (!spec.notNull || spec.kind === "json") {
    return Effect.fail(new InvalidInput({ field: "order.column", message: `order.column: "${column}" must be a not-null scalar column to order and page by` }))
  }
  return Effect.succeed({ column, direction: query.order?.direction ?? "asc" })
}

/** A select, validated and turned into SQL; `toPage` reads the raw rows it returned. */
export interface PlannedSelect {
  readonly sql: string
  readonly params: ReadonlyArray<SqlValue>
  readonly toPage: (raw: ReadonlyArray<Record<string, unknown>>) => Page
}

/**
 * Validate a select against the table and build its SQL. Running it is left to the caller, so a
 * snapshot can read the page and the outbox position in one synchronous step.
 */
export const planSelect = (table: ResolvedTable, query: SelectQuery): Effect.Effect<PlannedSelect, InvalidInput> =>
  Effect.gen(function* () {
    const where = yield* decodeWhere(table, query.where ?? {})
    const order = yield* orderingOf(table, query)
    const specs = new Map(table.columns)
    const clauses: Array<string> = []
    const params: Array<SqlValue> = []
    for (const [column, value] of Object.entries(where)) {
      if (value === null) clauses.push(`${ident(column)} IS NULL`)
      else {
        clauses.push(`${ident(column)} = ?`)
        params.push(toSql(specs.get(column)!, value))
      }
    }
    const pk = table.primaryKey
    const cmp = order.direction === "asc" ? ">" : "<"
    // Keyset columns: the order column, then the primary key, then (keys unique per tenant) the tenant column.
    const keyset = [...new Set([order.column, pk, table.shardColumn])]
    if (query.cursor !== undefined && query.cursor !== null) {
      const cursor = yield* decodeCursor(table, query.cursor)
      const values = (order.column === pk ? cursor.slice(1) : cursor).map((value, i) => toSql(specs.get(keyset[i])!, value))
      // (a > ?) OR (a = ? AND b > ?) OR (a = ? AND b = ? AND c > ?)
      const alternatives = keyset.map((column, i) => {
        for (let j = 0; j < i; j++) params.push(values[j])
        params.push(values[i])
        return [...keyset.slice(0, i).map((before) => `${ident(before)} = ?`), `${ident(column)} ${cmp} ?`].join(" AND ")
      })
      clauses.push(`(${alternatives.map((alternative) => `(${alternative})`).join(" OR ")})`)
    }
    const dir = order.direction.toUpperCase()
    const orderBy = keyset.map((column) => `${ident(column)} ${dir}`).join(", ")
    // One row more than asked tells whether there is a next page.
    params.push(query.limit + 1)
    return {
      sql: `SELECT ${selectList(table)} FROM ${ident(table.name)}${clauses.length > 0 ? ` WHERE ${clauses.join(" AND ")}` : ""} ORDER BY ${orderBy} LIMIT ?`,
      params,
      toPage: (raw) => {
        const rows = raw.map((row) => decodeRow(table, row))
        const page = rows.slice(0, query.limit)
        const last = page[page.length - 1]
        return { rows: page, nextCursor: rows.length > query.limit && last !== undefined ? encodeCursor(table, order.column, last) : null }
      },
    }
  })

const compareValues = (a: unknown, b: unknown): number => {
  if (a === b) return 0
  if (typeof a === "number" && typeof b === "number") return a - b
  if (typeof a === "boolean" && typeof b === "boolean") return Number(a) - Number(b)
  return String(a) < String(b) ? -1 : 1
}

/** Merge pages of several shards into one page of the same order. */
export const mergePages = (table: ResolvedTable, query: SelectQuery, pages: ReadonlyArray<Page>): Page => {
  if (pages.length === 1) return pages[0]
  const column = query.order?.column ?? table.primaryKey
  const sign = (query.order?.direction ?? "asc") === "asc" ? 1 : -1
  const pk = table.primaryKey
  const all = pages
    .flatMap((page) => page.rows)
    .sort((a, b) => sign * (compareValues(a[column], b[column]) || compareValues(a[pk], b[pk]) || compareValues(a[table.shardColumn], b[table.shardColumn])))
  const rows = all.slice(0, query.limit)
  const more = all.length > query.limit || pages.some((page) => page.nextCursor !== null)
  const last = rows[rows.length - 1]
  return { rows, nextCursor: more && last !== undefined ? encodeCursor(table, column, last) : null }
}
