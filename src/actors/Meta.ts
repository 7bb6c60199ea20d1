/**
 * A small key/value table for an actor's own facts (address, epoch, status, metadata).
 * @since 0.1.0
 */
import { Effect } from "effect"
import type { SqlShape } from "../services/Sql.js"

export const metaMigration = {
  name: "meta_001",
  statements: ["CREATE TABLE IF NOT EXISTS _meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"],
}

export const readMeta = <A>(sql: SqlShape, key: string): Effect.Effect<A | undefined, never> =>
  sql.one<{ value: string }>("SELECT value FROM _meta WHERE key = ?", key).pipe(
    Effect.map((row) => (row === undefined ? undefined : (JSON.parse(row.value) as A))),
    Effect.orDie,
  )

export const writeMeta = (sql: SqlShape, key: string, value: unknown) =>
  sql.run("INSERT INTO _meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", key, JSON.stringify(value))

/** Synchronous read, for use before a runtime exists (the host reading its stored address). */
export const readMetaSync = <A>(storage: DurableObjectStorage, key: string): A | undefined => {
  const rows = storage.sql.exec("SELECT value FROM _meta WHERE key = ?", key).toArray() as Array<{ value: string }>
  return rows.length === 0 ? undefined : (JSON.parse(rows[0].value) as A)
}
