/**
 * `table({ ...columns })`: a table declaration, and the row types inferred from it.
 *
 * ```ts
 * const posts = table({ id: text().primaryKey(), tenantId: text().notNull().index(), title: text().notNull() })
 * type Post = RowOf<typeof posts>          // { id: string; tenantId: string; title: string }
 * type NewPost = InsertOf<typeof posts>    // same, with nullable and defaulted columns optional
 * ```
 *
 * @since 0.1.0
 */
import { Either, type ParseResult, Schema } from "effect"
import { isJsonValue, JsonValue } from "../schema/Common.js"
import { compileDecoder, UNDECIDED } from "../schema/CompiledDecoder.js"
import type { Column, ColumnSpec } from "./Columns.js"

export type Columns = Readonly<Record<string, Column<any, boolean, boolean>>>

export interface Table<C extends Columns = Columns> {
  readonly columns: C
}

type ValueOf<C> = C extends Column<infer T, infer NotNull, any> ? (NotNull extends true ? T : T | null) : never
type Simplify<A> = { [K in keyof A]: A[K] } & {}
type RequiredKeys<C extends Columns> = { [K in keyof C]: C[K] extends Column<any, true, false> ? K : never }[keyof C]
type OptionalKeys<C extends Columns> = Exclude<keyof C, RequiredKeys<C>>

/** A stored row of a table. */
export type RowOf<T extends Table> = Simplify<{ -readonly [K in keyof T["columns"]]: ValueOf<T["columns"][K]> }>

/** What `insert` takes: not-null columns without a default are required, the rest optional. */
export type InsertOf<T extends Table> = Simplify<
  { -readonly [K in RequiredKeys<T["columns"]>]: ValueOf<T["columns"][K]> } & {
    -readonly [K in OptionalKeys<T["columns"]>]?: ValueOf<T["columns"][K]>
  }
>

/** What `update` takes as its patch: any columns except the primary key. */
export type PatchOf<T extends Table> = Simplify<Partial<RowOf<T>>>

export const table = <C extends Columns>(columns: C): Table<C> => ({ columns })

/** The specs of a table's columns, by name. */
export const specsOf = (table: Table): ReadonlyArray<readonly [string, ColumnSpec]> =>
  Object.entries(table.columns).map(([name, column]) => [name, column.spec] as const)

/** Schemas are built once per table: a parser is compiled per Schema, so rebuilding them per write would be slow. */
const memo = <A>(build: (table: Table) => A) => {
  const cache = new WeakMap<Table, A>()
  return (table: Table): A => {
    let value = cache.get(table)
    if (value === undefined) {
      value = build(table)
      cache.set(table, value)
    }
    return value
  }
}

/** The Schema of an insert: columns that are nullable or defaulted may be left out. */
export const insertSchema = memo((table: Table) =>
  Schema.Struct(
    Object.fromEntries(
      Object.entries(table.columns).map(([name, column]) => {
        const value = column.spec.notNull ? column.schema : Schema.NullOr(column.schema)
        const optional = !column.spec.notNull || column.spec.default !== undefined
        return [name, optional ? Schema.optional(value) : value]
      }),
    ),
    // Unknown keys are an error, not silently dropped: a typo must not lose data.
  ).annotations({ parseOptions: { onExcessProperty: "error" } }) as unknown as Schema.Schema<Record<string, unknown>, Record<string, unknown>>)

/** The Schema of an update patch: any subset of the columns. */
export const patchSchema = memo((table: Table) =>
  Schema.Struct(
    Object.fromEntries(
      Object.entries(table.columns).map(([name, column]) => [
        name,
        Schema.optional(column.spec.notNull ? column.schema : Schema.NullOr(column.schema)),
      ]),
    ),
  ).annotations({ parseOptions: { onExcessProperty: "error" } }) as unknown as Schema.Schema<Record<string, unknown>, Record<string, unknown>>)

/** A json column's filter as the predicate it runs, for the compiled decoders below. */
const compileOptions = { filters: new Map([[JsonValue.ast, isJsonValue]]) }

/**
 * Decode with the decoder compiled from a Schema (`schema/CompiledDecoder.ts`: the Schema's very
 * value whenever it accepts), and with the Schema itself when that is undecided, which also words
 * the refusal. A shard decodes every written row: the generic parser was most of that cost.
 */
const compiledOrSchema = (schema: Schema.Schema<Record<string, unknown>, Record<string, unknown>>) => {
  const compiled = compileDecoder(schema, compileOptions)
  const viaSchema = Schema.decodeUnknownEither(schema)
  return (input: unknown): Either.Either<Record<string, unknown>, ParseResult.ParseError> => {
    const value = compiled(input)
    return value !== UNDECIDED ? Either.right(value) : viaSchema(input)
  }
}

/** `Schema.decodeUnknownEither(insertSchema(table))`, compiled once per table. */
export const decodeInsert = memo((table: Table) => compiledOrSchema(insertSchema(table)))

/** `Schema.decodeUnknownEither(patchSchema(table))`, compiled once per table. */
export const decodePatch = memo((table: Table) => compiledOrSchema(patchSchema(table)))
