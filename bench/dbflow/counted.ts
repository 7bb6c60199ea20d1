/**
 * The library's shard and hub classes, unchanged except that they count SQLite rows written
 * (`cursor.rowsWritten`, the figure Cloudflare bills), so the report can say how many rows one
 * database write costs end to end, and which statements write them. Nothing else differs from
 * `RealtimeDbShard` / `RealtimeTableHub`. The floor objects (floor.ts, floorTwoHop.ts) count through
 * the same `countRows` wrapper: counting costs a few µs of JavaScript per write (~4.7 µs in the
 * dbwire perf, bench/notes/db.md), which both sides of the comparison now pay alike.
 *
 * `GET` with header `x-dbflow-rows: take` answers `{ rowsWritten, byStatement }` since the last take and resets it.
 */
import { RealtimeDbShard, RealtimeTableHub } from "../../src/durable/index.js"

export const ROWS_HEADER = "x-dbflow-rows"

/** Wrap `ctx.storage.sql.exec` so every statement's rowsWritten is added up; answers the take function. */
export const countRows = (ctx: DurableObjectState) => {
  const sql = ctx.storage.sql
  const exec = sql.exec.bind(sql)
  // Rows written per statement text (its first 60 characters), for the notes' breakdown.
  let byStatement = new Map<string, number>()
  // The library's Sql service consumes each cursor at once (toArray / rowsWritten), so the previous
  // cursor is complete whenever the next statement starts: fold it in then.
  let last: { query: string; cursor: SqlStorageCursor<Record<string, SqlStorageValue>> } | undefined
  const fold = () => {
    if (last !== undefined && last.cursor.rowsWritten > 0) {
      const key = last.query.slice(0, 60)
      byStatement.set(key, (byStatement.get(key) ?? 0) + last.cursor.rowsWritten)
    }
    last = undefined
  }
  ;(sql as { exec: typeof sql.exec }).exec = ((query: string, ...bindings: Array<unknown>) => {
    fold()
    const cursor = exec(query, ...bindings)
    last = { query, cursor }
    return cursor
  }) as typeof sql.exec
  return () => {
    fold()
    const taken = byStatement
    byStatement = new Map()
    return { rowsWritten: [...taken.values()].reduce((sum, rows) => sum + rows, 0), byStatement: Object.fromEntries(taken) }
  }
}

export class DbflowCountedShard extends RealtimeDbShard {
  readonly #takeRows: ReturnType<typeof countRows>
  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env)
    this.#takeRows = countRows(ctx)
  }
  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get(ROWS_HEADER) === "take") return Response.json(this.#takeRows())
    return super.fetch(request)
  }
}

export class DbflowCountedHub extends RealtimeTableHub {
  readonly #takeRows: ReturnType<typeof countRows>
  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env)
    this.#takeRows = countRows(ctx)
  }
  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get(ROWS_HEADER) === "take") return Response.json(this.#takeRows())
    return super.fetch(request)
  }
}
