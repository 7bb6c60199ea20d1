/**
 * A small key/value table for an actor's own facts (address, epoch, status, metadata).
 * @since 0.1.0
 */
import type { Effect } from "effect"
import type { ConstraintViolation, StorageFailure } from "../RealtimeError.js"
import type { SqlShape } from "../services/Sql.js"
import { makeSqlite } from "./ActorFacts.js"

export const metaMigration = {
  name: "meta_001",
  statements: ["CREATE TABLE IF NOT EXISTS _meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"],
}

/** For modules that still hold `Sql` directly; actors with a storage Tag use `ActorFacts`. */
export const readMeta = <A>(sql: SqlShape, key: string): Effect.Effect<A | undefined, never> => makeSqlite(sql).get<A>(key)

export const writeMeta = (sql: SqlShape, key: string, value: unknown): Effect.Effect<void, StorageFailure | ConstraintViolation> => makeSqlite(sql).set(key, value)

/** Synchronous read, for use before a runtime exists (the host reading its stored address). */
export const readMetaSync = <A>(storage: DurableObjectStorage, key: string): A | undefined => {
  const rows = storage.sql.exec("SELECT value FROM _meta WHERE key = ?", key).toArray() as Array<{ value: string }>
  return rows.length === 0 ? undefined : (JSON.parse(rows[0].value) as A)
}
