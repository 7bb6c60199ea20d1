/**
 * Row values between JavaScript and SQLite: booleans as 0/1, JSON as text, timestamps as epoch
 * milliseconds. Also SQL identifier and literal quoting for the statements we build.
 * @since 0.1.0
 */
import type { SqlValue } from "../services/Sql.js"
import type { ColumnSpec } from "./Columns.js"
import type { ResolvedTable } from "./Declaration.js"

export type DbRow = Record<string, unknown>

/** A SQL identifier, quoted. Declared names are already restricted to [A-Za-z0-9_]. */
export const ident = (name: string) => `"${name.replace(/"/g, '""')}"`

/** A SQL literal for a value we produced ourselves (defaults, migration bookkeeping). */
export const literal = (value: unknown): string => {
  if (value === null || value === undefined) return "NULL"
  if (typeof value === "boolean") return value ? "1" : "0"
  if (typeof value === "number") return String(value)
  return `'${String(value).replace(/'/g, "''")}'`
}

export const toSql = (spec: ColumnSpec, value: unknown): SqlValue => {
  if (value === null || value === undefined) return null
  switch (spec.kind) {
    case "boolean":
      return value ? 1 : 0
    case "json":
      return JSON.stringify(value)
    default:
      return value as SqlValue
  }
}

export const fromSql = (spec: ColumnSpec, value: unknown): unknown => {
  if (value === null || value === undefined) return null
  switch (spec.kind) {
    case "boolean":
      return value === 1 || value === true
    case "json":
      return JSON.parse(String(value))
    case "text":
      return String(value)
    default:
      return Number(value)
  }
}

/** Unpaired UTF-16 surrogates: SQLite stores text as UTF-8, which has no encoding for them. */
const LONE_SURROGATES = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g
type WellFormedCheck = string & { isWellFormed(): boolean }

/**
 * A decoded value as SQLite answers it once stored in a column of this kind: `fromSql(toSql(value))`
 * and what storing converts (workerd writes an unpaired surrogate as its three UTF-8-style bytes,
 * which read back as three U+FFFD; SQLite stores `-0` as the integer 0). The insert path builds its row with this instead of reading it back with
 * RETURNING; `test/db-stored-row.test.ts` holds the two equal for every column kind.
 */
export const storedValue = (spec: ColumnSpec, value: unknown): unknown => {
  if (value === null || value === undefined) return null
  switch (spec.kind) {
    case "text":
      // `isWellFormed` (ES2024, not in this project's ES2022 lib): a builtin scan, cheaper per write than the pattern's test.
      return (value as WellFormedCheck).isWellFormed() ? value : (value as string).replace(LONE_SURROGATES, "\uFFFD\uFFFD\uFFFD")
    case "boolean":
      return value === true
    case "json":
      return JSON.parse(JSON.stringify(value))
    default:
      // integer, real, timestamp: finite numbers, exact in SQLite but for the sign of zero.
      return value === 0 ? 0 : value
  }
}

/** A SQLite row as the table's JavaScript row. */
export const decodeRow = (table: ResolvedTable, raw: Record<string, unknown>): DbRow => {
  const row: DbRow = {}
  for (const [name, spec] of table.columns) row[name] = fromSql(spec, raw[name])
  return row
}

/** The column list of a table, quoted, for SELECTs. */
export const selectList = (table: ResolvedTable) => table.columns.map(([name]) => ident(name)).join(", ")
