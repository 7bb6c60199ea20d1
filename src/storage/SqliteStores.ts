/**
 * The SQLite stores a Durable Object kind declares, added to its context in one step.
 *
 * Each storage Tag's module exports its `layerSqlite` (tests compose those freely) and a
 * `sqlite` descriptor: the Tag and the function that builds the store over the object's `Sql`.
 * An object kind lists the descriptors of the stores its actor uses (`src/durable/*Object.ts`);
 * the host adds exactly those to the one context it builds per object.
 *
 * Why not a Layer per store in the host: every Layer an object's runtime builds keeps its own
 * memo entry, scope and finalizer for as long as the object is awake, ~4-17 KB of V8 heap per
 * Layer (measured in bench/notes/idle-heap.md), while a store itself is a handful of closures.
 * Eight store Layers in every object were ~100 KB per awake room or channel.
 *
 * @since 0.2.0
 */
import { Context } from "effect"
import type { SqlShape } from "../services/Sql.js"

/** How to build one store over an object's SQLite. */
export interface SqliteStore<Id, Shape> {
  readonly tag: Context.Tag<Id, Shape>
  readonly make: (sql: SqlShape) => Shape
}

/** Any store descriptor (a kind's list holds stores of different shapes). */
// `any`: the list is heterogeneous; StoreServices recovers each Tag's identifier.
export type AnySqliteStore = SqliteStore<any, any>

/** The services a list of store descriptors provides. */
export type StoreServices<Stores extends ReadonlyArray<AnySqliteStore>> = IdOf<Stores[number]>
type IdOf<Store> = Store extends SqliteStore<infer Id, infer _Shape> ? Id : never

/** The descriptor of a store: its Tag and its SQLite constructor. */
export const sqliteStore = <Id, Shape>(tag: Context.Tag<Id, Shape>, make: (sql: SqlShape) => Shape): SqliteStore<Id, Shape> => ({ tag, make })

/** `context` with each listed store built over `sql`. */
export const addSqliteStores = <R, const Stores extends ReadonlyArray<AnySqliteStore>>(
  context: Context.Context<R>,
  sql: SqlShape,
  stores: Stores,
): Context.Context<R | StoreServices<Stores>> => {
  let built: Context.Context<R | StoreServices<Stores>> = context
  for (const store of stores) built = Context.add(built, store.tag, store.make(sql))
  return built
}
