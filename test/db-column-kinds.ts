/**
 * What the row property tests share (db-stored-row, db-lone-insert): a column of every kind, with
 * defaults and nullable ones, and the helpers that generate rows leaving optional columns out.
 */
import fc from "fast-check"
import { boolean, integer, json, real, text, timestamp } from "../src/db/Columns.js"

/** Every column kind after a table's key columns: required, nullable and defaulted. */
export const everyKind = {
  label: text().notNull(),
  note: text(),
  count: integer().notNull().default(0),
  score: real(),
  done: boolean(),
  flag: boolean().notNull().default(true),
  data: json(),
  at: timestamp(),
}

/** An optional column's value: absent, null or a value. */
export const optional = <A,>(value: fc.Arbitrary<A>) => fc.option(fc.option(value, { nil: null }), { nil: undefined })
/** A generated row without the columns left out. */
export const withoutAbsent = (row: Record<string, unknown>) => Object.fromEntries(Object.entries(row).filter(([, value]) => value !== undefined))

/** Generators of `everyKind`'s values (`label` defaults to `text`), optional columns sometimes left out or null. */
export const everyKindValues = (values: {
  readonly text: fc.Arbitrary<string>
  readonly label?: fc.Arbitrary<string>
  readonly integer: fc.Arbitrary<number>
  readonly real: fc.Arbitrary<number>
  readonly json: fc.Arbitrary<unknown>
  readonly time: fc.Arbitrary<number>
}) => ({
  label: values.label ?? values.text,
  note: optional(values.text),
  count: fc.option(values.integer, { nil: undefined }),
  score: optional(values.real),
  done: optional(fc.boolean()),
  flag: fc.option(fc.boolean(), { nil: undefined }),
  data: optional(values.json),
  at: optional(values.time),
})
