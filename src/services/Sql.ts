/**
 * Synchronous SQLite access for one actor, behind a Tag.
 *
 * Durable Object SQLite is synchronous; every call here is too, wrapped in `Effect.try` so that a
 * thrown SQLite error becomes a typed `StorageFailure` (or a `ConstraintViolation` for constraint
 * errors). Cursors are consumed immediately (`toArray`), never held across an `await`.
 *
 * @since 0.1.0
 */
import { Clock, Context, Effect, Either, Layer } from "effect"
import { ConstraintViolation, StorageFailure } from "../RealtimeError.js"

export type SqlValue = string | number | null | ArrayBuffer | Uint8Array
export type Row = Record<string, SqlValue>

export interface SqlShape {
  /** All rows of a query. */
  readonly all: <R extends Row = Row>(query: string, ...params: ReadonlyArray<SqlValue>) => Effect.Effect<R[], StorageFailure>
  /** The first row of a query, or undefined. */
  readonly one: <R extends Row = Row>(query: string, ...params: ReadonlyArray<SqlValue>) => Effect.Effect<R | undefined, StorageFailure>
  /** Run a statement; returns rows written. */
  readonly run: (query: string, ...params: ReadonlyArray<SqlValue>) => Effect.Effect<number, StorageFailure | ConstraintViolation>
  /**
   * Run a synchronous body atomically (`transactionSync`): it sees a consistent database and either
   * all its writes commit or none do. The body uses the raw `exec` it is handed.
   */
  readonly transaction: <A>(body: (exec: RawExec, run: RawRun) => A) => Effect.Effect<A, StorageFailure | ConstraintViolation>
  /**
   * `transaction` for synchronous fast paths (a socket publish): no fiber is started, the outcome is
   * an `Either` (which is itself an Effect wherever one is wanted), a thrown SQLite error mapped to
   * the same typed error.
   */
  readonly transactionNow: <A, I = undefined>(body: (exec: RawExec, run: RawRun, input: I) => A, input?: I) => Either.Either<A, StorageFailure | ConstraintViolation>
  /**
   * A synchronous body's statements without a transaction of their own, as an `Either`: for a body
   * that is one statement (atomic by itself), where `transactionSync`'s savepoint would only cost.
   * `input` is handed to the body, so a hot caller can pass one body made once instead of a closure
   * per call (under the bundler's `keepNames` each new closure is also an `Object.defineProperty`).
   */
  readonly statementNow: <A, I = undefined>(body: (exec: RawExec, run: RawRun, input: I) => A, input?: I) => Either.Either<A, StorageFailure | ConstraintViolation>
  /** Bytes the database uses on disk. */
  readonly databaseSize: Effect.Effect<number>
}

/** The raw synchronous exec used inside `transaction` bodies, where Effects cannot run. */
export type RawExec = <R extends Row = Row>(query: string, ...params: ReadonlyArray<SqlValue>) => R[]
/** A raw synchronous write for the same bodies: the rows it wrote, no result rows built. */
export type RawRun = (query: string, ...params: ReadonlyArray<SqlValue>) => number

export class Sql extends Context.Tag("durable-realtime/Sql")<Sql, SqlShape>() {}

const toFailure = (cause: unknown): StorageFailure | ConstraintViolation => {
  const message = cause instanceof Error ? cause.message : String(cause)
  if (/constraint/i.test(message)) return new ConstraintViolation({ table: tableOf(message), message })
  return new StorageFailure({ message })
}

const tableOf = (message: string): string => /:\s*([A-Za-z0-9_]+)\./.exec(message)?.[1] ?? "unknown"

/** A Sql service over a Durable Object's `ctx.storage`. */
export const makeSql = (storage: DurableObjectStorage): SqlShape => {
  const exec: RawExec = (query, ...params) => storage.sql.exec(query, ...(params as Array<SqlValue>)).toArray() as never
  const run: RawRun = (query, ...params) => storage.sql.exec(query, ...(params as Array<SqlValue>)).rowsWritten
  return {
    all: (query, ...params) =>
      Effect.try({ try: () => exec(query, ...params), catch: (cause) => new StorageFailure({ message: String(cause) }) }) as never,
    one: (query, ...params) =>
      Effect.try({ try: () => exec(query, ...params)[0], catch: (cause) => new StorageFailure({ message: String(cause) }) }) as never,
    run: (query, ...params) =>
      Effect.try({
        try: () => storage.sql.exec(query, ...(params as Array<SqlValue>)).rowsWritten,
        catch: toFailure,
      }),
    transaction: (body) => Effect.try({ try: () => storage.transactionSync(() => body(exec, run)), catch: toFailure }),
    transactionNow: (body, input) => {
      try {
        return Either.right(storage.transactionSync(() => body(exec, run, input!)))
      } catch (cause) {
        return Either.left(toFailure(cause))
      }
    },
    statementNow: (body, input) => {
      try {
        return Either.right(body(exec, run, input!))
      } catch (cause) {
        return Either.left(toFailure(cause))
      }
    },
    databaseSize: Effect.sync(() => storage.sql.databaseSize),
  }
}

export const layer = (storage: DurableObjectStorage): Layer.Layer<Sql> => Layer.succeed(Sql, makeSql(storage))

/** Apply numbered, append-only migrations once each, recording them in `_migrations`. */
export const migrate = (
  sql: SqlShape,
  migrations: ReadonlyArray<{ readonly name: string; readonly statements: ReadonlyArray<string> }>,
): Effect.Effect<ReadonlyArray<string>, StorageFailure | ConstraintViolation> =>
  Effect.flatMap(Clock.currentTimeMillis, (now) => sql.transaction((exec) => {
    exec("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)")
    const applied = new Set(exec<{ name: string }>("SELECT name FROM _migrations").map((row) => row.name))
    const ran: Array<string> = []
    for (const migration of migrations) {
      if (applied.has(migration.name)) continue
      for (const statement of migration.statements) exec(statement)
      exec("INSERT INTO _migrations (name, applied_at) VALUES (?, ?)", migration.name, now)
      ran.push(migration.name)
    }
    return ran
  }))
