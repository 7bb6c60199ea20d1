/**
 * Storage of an actor's scheduled jobs, behind a Tag: one row per job name with its next run time
 * and how many times in a row it failed. `services/Jobs.ts` holds the logic (the one alarm armed
 * for the earliest row, running due jobs, retries) and speaks only to this service.
 *
 * `layerSqlite` keeps the `_jobs` table the actors always had; `layerMemory` a map, for unit tests
 * of actor logic under `TestClock` (see `services/JobsMemory.ts`). One conformance suite
 * (`test/storage-job-store.test.ts`) runs the same tests against both.
 *
 * @since 0.2.0
 */
import { Context, Effect, Layer } from "effect"
import type { ConstraintViolation, StorageFailure } from "../RealtimeError.js"
import { Sql, type SqlShape } from "../services/Sql.js"
import { sqliteStore } from "./SqliteStores.js"

export interface JobRow {
  readonly name: string
  readonly runAt: number
  /** Failures in a row (0 after a success or a new schedule). */
  readonly attempts: number
}

export type WriteError = StorageFailure | ConstraintViolation

export interface JobStoreShape {
  /** The earliest run time, or null when no job is scheduled. */
  readonly earliest: Effect.Effect<number | null, StorageFailure>
  /** The run time of `name`, or undefined when it is not scheduled. */
  readonly runAt: (name: string) => Effect.Effect<number | undefined, StorageFailure>
  /** Schedule `name` at `at` with no failures, replacing any earlier schedule. */
  readonly put: (name: string, at: number) => Effect.Effect<void, WriteError>
  /** Move a scheduled job to `at`; `failed` counts one more failure, else none. No row: nothing. Whether a row moved. */
  readonly move: (name: string, at: number, failed: boolean) => Effect.Effect<boolean, WriteError>
  /** Unschedule `name`; with `ranAt`, only if it is still due at that time (not rescheduled later). */
  readonly remove: (name: string, ranAt?: number) => Effect.Effect<void, WriteError>
  /** Jobs due at `now`, soonest first. */
  readonly due: (now: number) => Effect.Effect<ReadonlyArray<JobRow>, StorageFailure>
  /** Every job, soonest first. */
  readonly all: Effect.Effect<ReadonlyArray<JobRow>, StorageFailure>
}

/**
 * The job rows of one actor.
 *
 * @since 0.2.0
 * @category services
 */
export class JobStore extends Context.Tag("durable-realtime/JobStore")<JobStore, JobStoreShape>() {}

export const jobsMigration = {
  name: "jobs_001",
  statements: ["CREATE TABLE IF NOT EXISTS _jobs (name TEXT PRIMARY KEY, run_at INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0)"],
}

const toRow = (row: { name: string; run_at: number; attempts: number }): JobRow => ({ name: row.name, runAt: row.run_at, attempts: row.attempts })

export const makeSqlite = (sql: SqlShape): JobStoreShape => ({
  earliest: Effect.map(sql.one<{ at: number | null }>("SELECT MIN(run_at) AS at FROM _jobs"), (row) => row?.at ?? null),
  runAt: (name) => Effect.map(sql.one<{ run_at: number }>("SELECT run_at FROM _jobs WHERE name = ?", name), (row) => row?.run_at),
  put: (name, at) =>
    Effect.asVoid(
      sql.run("INSERT INTO _jobs (name, run_at, attempts) VALUES (?, ?, 0) ON CONFLICT(name) DO UPDATE SET run_at = excluded.run_at, attempts = 0", name, at),
    ),
  move: (name, at, failed) =>
    Effect.map(
      failed
        ? sql.run("UPDATE _jobs SET run_at = ?, attempts = attempts + 1 WHERE name = ?", at, name)
        : sql.run("UPDATE _jobs SET run_at = ?, attempts = 0 WHERE name = ?", at, name),
      (written) => written > 0,
    ),
  remove: (name, ranAt) =>
    Effect.asVoid(
      ranAt === undefined ? sql.run("DELETE FROM _jobs WHERE name = ?", name) : sql.run("DELETE FROM _jobs WHERE name = ? AND run_at <= ?", name, ranAt),
    ),
  due: (now) => Effect.map(sql.all<{ name: string; run_at: number; attempts: number }>("SELECT name, run_at, attempts FROM _jobs WHERE run_at <= ? ORDER BY run_at", now), (rows) => rows.map(toRow)),
  all: Effect.map(sql.all<{ name: string; run_at: number; attempts: number }>("SELECT name, run_at, attempts FROM _jobs ORDER BY run_at"), (rows) => rows.map(toRow)),
})

/** In a map by name. */
export const makeMemory = (): JobStoreShape => {
  const jobs = new Map<string, JobRow>()
  const soonestFirst = (rows: Iterable<JobRow>) => [...rows].sort((a, b) => a.runAt - b.runAt)
  return {
    earliest: Effect.sync(() => soonestFirst(jobs.values())[0]?.runAt ?? null),
    runAt: (name) => Effect.sync(() => jobs.get(name)?.runAt),
    put: (name, at) => Effect.sync(() => void jobs.set(name, { name, runAt: at, attempts: 0 })),
    move: (name, at, failed) =>
      Effect.sync(() => {
        const job = jobs.get(name)
        if (job !== undefined) jobs.set(name, { name, runAt: at, attempts: failed ? job.attempts + 1 : 0 })
        return job !== undefined
      }),
    remove: (name, ranAt) =>
      Effect.sync(() => {
        const job = jobs.get(name)
        if (job !== undefined && (ranAt === undefined || job.runAt <= ranAt)) jobs.delete(name)
      }),
    due: (now) => Effect.sync(() => soonestFirst([...jobs.values()].filter((job) => job.runAt <= now))),
    all: Effect.sync(() => soonestFirst(jobs.values())),
  }
}

/**
 * The SQLite layer, over the actor's `Sql` (the table from `jobsMigration`).
 *
 * @since 0.2.0
 * @category layers
 */
export const layerSqlite: Layer.Layer<JobStore, never, Sql> = Layer.effect(JobStore, Effect.map(Sql, makeSqlite))

/** The store's descriptor for an object kind's list of stores (`SqliteStores.ts`): built beside the others, with no Layer of its own. */
export const sqlite = sqliteStore(JobStore, makeSqlite)

/**
 * A fresh, empty map each time the layer is built.
 *
 * @since 0.2.0
 * @category layers
 */
export const layerMemory: Layer.Layer<JobStore> = Layer.sync(JobStore, makeMemory)
