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

/** A SQLite row as the table's JavaScript row. */
export const decodeRow = (table: ResolvedTable, raw: Record<string, unknown>): DbRow => {
  const row: DbRow = {}
  for (const [name, spec] of table.columns) row[name] = fromSql(spec, raw[name])
  return row
}

/** The column list of a table, quoted, for SELECTs. */
export const selectList = (table: ResolvedTable) => table.columns.map(([name]) => ident(name)).join(", ")
