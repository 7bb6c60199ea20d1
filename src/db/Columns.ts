/**
 * Column builders of the table DSL: `text()`, `integer()`, `real()`, `boolean()`, `json()`,
 * `timestamp()`, refined with `.primaryKey()`, `.notNull()`, `.index()`, `.unique()` and
 * `.default(value)`.
 *
 * A column carries its TypeScript value type and two type-level flags (may it be null, may an
 * insert omit it) so a table's row and insert types are inferred from its declaration. Builders
 * are immutable: every refinement returns a new column.
 *
 * Storage: text → TEXT, integer → INTEGER, real → REAL, boolean → INTEGER 0/1, json → TEXT (JSON),
 * timestamp → INTEGER epoch milliseconds.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { JsonValue } from "../schema/Common.js"

export type ColumnKind = "text" | "integer" | "real" | "boolean" | "json" | "timestamp"

/** What a column declares, as plain data (the part migrations and SQL builders read). */
export interface ColumnSpec {
  readonly kind: ColumnKind
  readonly primaryKey: boolean
  readonly notNull: boolean
  readonly index: boolean
  readonly unique: boolean
  /** `undefined` when the column has no default. */
  readonly default: unknown
}

/**
 * A declared column. `T` is the value type; `NotNull` whether stored rows always hold a value;
 * `HasDefault` whether an insert may leave it out and get the default.
 */
export interface Column<T, NotNull extends boolean = false, HasDefault extends boolean = false> {
  /** Type-level markers only (never set at runtime): they let row types tell columns apart. */
  readonly "~notNull"?: NotNull
  readonly "~hasDefault"?: HasDefault
  readonly "~type"?: T
  readonly spec: ColumnSpec
  /** The Schema of one non-null value of this column. */
  readonly schema: Schema.Schema<T, any>
  /** The row's identity: implies not null and unique. Exactly one per table. */
  readonly primaryKey: () => Column<T, true, HasDefault>
  readonly notNull: () => Column<T, true, HasDefault>
  /** Adds a secondary index (filter columns should have one). */
  readonly index: () => Column<T, NotNull, HasDefault>
  readonly unique: () => Column<T, NotNull, HasDefault>
  /** Value used when an insert leaves the column out. */
  readonly default: (value: T) => Column<T, NotNull, true>
}

const make = <T>(schema: Schema.Schema<T, any>, spec: ColumnSpec): Column<any, any, any> => ({
  spec,
  schema,
  primaryKey: () => make(schema, { ...spec, primaryKey: true, notNull: true }),
  notNull: () => make(schema, { ...spec, notNull: true }),
  index: () => make(schema, { ...spec, index: true }),
  unique: () => make(schema, { ...spec, unique: true }),
  default: (value: T) => {
    // A default must itself be a valid value: checked when declared, not at the first insert.
    if (!Schema.is(schema)(value)) throw new TypeError(`durable-realtime/db: default ${JSON.stringify(value)} is not a valid ${spec.kind} value`)
    return make(schema, { ...spec, default: value })
  },
})

const base = (kind: ColumnKind): ColumnSpec => ({ kind, primaryKey: false, notNull: false, index: false, unique: false, default: undefined })

const FiniteNumber = Schema.Number.pipe(Schema.filter((n) => Number.isFinite(n), { message: () => "must be a finite number" }))
const SafeInteger = Schema.Number.pipe(Schema.filter((n) => Number.isSafeInteger(n), { message: () => "must be a safe integer" }))

export const text = (): Column<string> => make(Schema.String, base("text"))
export const integer = (): Column<number> => make(SafeInteger, base("integer"))
export const real = (): Column<number> => make(FiniteNumber, base("real"))
export const boolean = (): Column<boolean> => make(Schema.Boolean, base("boolean"))
/** Any JSON value; narrow the type with `json<MyShape>()` (the stored value is checked as JSON only). */
export const json = <T = unknown>(): Column<T> => make(JsonValue as Schema.Schema<T, any>, base("json"))
/** Epoch milliseconds (a non-negative safe integer). */
export const timestamp = (): Column<number> =>
  make(SafeInteger.pipe(Schema.filter((n) => n >= 0, { message: () => "must be epoch milliseconds (>= 0)" })), base("timestamp"))

/** SQLite column type of a kind. */
export const sqlType = (kind: ColumnKind): string =>
  kind === "text" || kind === "json" ? "TEXT" : kind === "real" ? "REAL" : "INTEGER"
