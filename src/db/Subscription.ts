/**
 * The scope of a change-stream subscription, checked against the table's realtime declaration:
 * filters only on declared filter columns with values of the column's type, every required filter
 * present, events among the table's events. Used when a grant is issued and again at the handshake.
 * @since 0.1.0
 */
import { Effect, Schema } from "effect"
import { InvalidInput, invalidInputFromParseError } from "../RealtimeError.js"
import type { ChangeEvent, ResolvedTable } from "./Declaration.js"
import type { Filters } from "./Protocol.js"

export const decodeFilters = (table: ResolvedTable, raw: unknown, field = "filters"): Effect.Effect<Filters, InvalidInput> =>
  Effect.gen(function* () {
    const realtime = table.realtime
    if (realtime === undefined) return yield* new InvalidInput({ field: "table", message: `table: ${table.name} is not streamed` })
    if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
      return yield* new InvalidInput({ field, message: `${field}: must be a JSON object of column: value equality filters` })
    }
    const filters: Record<string, string | number | boolean | null> = {}
    for (const [column, value] of Object.entries(raw as Record<string, unknown>)) {
      if (!realtime.filters.includes(column)) {
        return yield* new InvalidInput({ field: `${field}.${column}`, message: `${field}.${column}: not a filter column of ${table.name} (filters: ${realtime.filters.join(", ") || "none"})` })
      }
      if (value === null) {
        filters[column] = null
        continue
      }
      filters[column] = (yield* Effect.mapError(Schema.decodeUnknown(table.table.columns[column].schema)(value), (error) =>
        invalidInputFromParseError(error, `${field}.${column}`),
      )) as string | number | boolean
    }
    return filters
  })

/** Every required filter must be set (to a non-null value: required filter columns are not null). */
export const missingRequired = (table: ResolvedTable, filters: Filters): ReadonlyArray<string> =>
  (table.realtime?.requiredFilters ?? []).filter((column) => filters[column] === undefined || filters[column] === null)

export const decodeEvents = (table: ResolvedTable, raw: ReadonlyArray<string> | undefined, field = "events"): Effect.Effect<ReadonlyArray<ChangeEvent>, InvalidInput> => {
  const allowed = table.realtime?.events ?? []
  if (raw === undefined) return Effect.succeed(allowed)
  const wrong = raw.filter((event) => !allowed.includes(event as ChangeEvent))
  if (raw.length === 0 || wrong.length > 0) {
    return Effect.fail(new InvalidInput({ field, message: `${field}: ${table.name} streams ${allowed.join(", ")}${wrong.length > 0 ? `, not ${wrong.join(", ")}` : ""}` }))
  }
  return Effect.succeed([...new Set(raw as ReadonlyArray<ChangeEvent>)])
}

/** Filters compared regardless of key order. */
export const sameFilters = (a: Filters, b: Filters): boolean => {
  const keys = Object.keys(a)
  return keys.length === Object.keys(b).length && keys.every((key) => key in b && a[key] === b[key])
}
