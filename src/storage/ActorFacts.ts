/**
 * An actor's own facts (lifecycle status, creation and last-touch times, room metadata, what it
 * last reported to the directory), behind a Tag: a small key/value store of JSON values.
 *
 * `layerSqlite` keeps them in the actor's `_meta` table (`Meta.ts`, the same rows and encoding as
 * before); `layerMemory` in a map, for unit tests of lifecycle logic under `TestClock`.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer } from "effect"
import type { ConstraintViolation, StorageFailure } from "../RealtimeError.js"
import { Sql, type SqlShape } from "../services/Sql.js"
import { sqliteStore } from "./SqliteStores.js"

export interface ActorFactsShape {
  /** The fact stored under `key`, or undefined. A fact that cannot be read is a defect. */
  readonly get: <A>(key: string) => Effect.Effect<A | undefined>
  /** Store a fact (JSON-encodable) under `key`, replacing the earlier one. */
  readonly set: (key: string, value: unknown) => Effect.Effect<void, StorageFailure | ConstraintViolation>
}

/**
 * The facts of one actor.
 *
 * @since 0.1.0
 * @category services
 */
export class ActorFacts extends Context.Tag("durable-realtime/ActorFacts")<ActorFacts, ActorFactsShape>() {}

/** Over the actor's `_meta` table (created by `metaMigration`). */
export const makeSqlite = (sql: SqlShape): ActorFactsShape => ({
  get: <A>(key: string) =>
    sql.one<{ value: string }>("SELECT value FROM _meta WHERE key = ?", key).pipe(
      Effect.map((row) => (row === undefined ? undefined : (JSON.parse(row.value) as A))),
      Effect.orDie,
    ),
  set: (key, value) =>
    Effect.asVoid(
      sql.run(
        "INSERT INTO _meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        key,
        JSON.stringify(value),
      ),
    ),
})

/** In a map of JSON text, so a fact read back is a copy, as from SQLite. */
export const makeMemory = (): ActorFactsShape => {
  const facts = new Map<string, string>()
  return {
    get: <A>(key: string) =>
      Effect.sync(() => {
        const text = facts.get(key)
        return text === undefined ? undefined : (JSON.parse(text) as A)
      }),
    set: (key, value) => Effect.sync(() => void facts.set(key, JSON.stringify(value))),
  }
}

/**
 * @since 0.1.0
 * @category layers
 */
export const layerSqlite: Layer.Layer<ActorFacts, never, Sql> = Layer.effect(ActorFacts, Effect.map(Sql, makeSqlite))

/** The store's descriptor for an object kind's list of stores (`SqliteStores.ts`): built beside the others, with no Layer of its own. */
export const sqlite = sqliteStore(ActorFacts, makeSqlite)

/**
 * A fresh, empty map each time the layer is built.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory: Layer.Layer<ActorFacts> = Layer.sync(ActorFacts, makeMemory)
