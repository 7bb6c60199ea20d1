/**
 * The directory's index of resources: which rooms, channels and documents an instance has (and,
 * in a database's directory, which table hubs it has), with the counts they last reported, for
 * operators (the inspector).
 *
 * It reads the directory's `entries` table (one row per resource, kept current by the absolute
 * reports every actor sends), so it costs nothing on the write path. Listing is paged by keyset on
 * the table's primary key `(kind, id)`: a page reads at most `limit` (≤ 100) rows however many
 * resources exist, and a cursor never skips or repeats a resource while others appear.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { InvalidInput, type StorageFailure } from "../../RealtimeError.js"
import type { SqlShape, SqlValue } from "../../services/Sql.js"
import type { ResourceKind, ResourceListQuery, ResourcePage, ResourceSummary } from "../../schema/Resources.js"

type Row = { kind: ResourceKind; id: string; messages: number; members: number; connections: number; destroyed: number }

const encodeCursor = (row: { kind: string; id: string }) => JSON.stringify([row.kind, row.id])

const decodeCursor = (cursor: string): Effect.Effect<readonly [string, string], InvalidInput> => {
  try {
    const parsed = JSON.parse(cursor) as unknown
    if (Array.isArray(parsed) && parsed.length === 2 && typeof parsed[0] === "string" && typeof parsed[1] === "string") return Effect.succeed([parsed[0], parsed[1]] as const)
  } catch {
    // falls through to the error below
  }
  return Effect.fail(new InvalidInput({ field: "cursor", message: "cursor: not a cursor this directory issued" }))
}

/** The directory's `list` operation (declared in `Ops.ts`): one page of the index. */
export const listResources =
  (sql: SqlShape) =>
  (query: typeof ResourceListQuery.Type): Effect.Effect<ResourcePage, InvalidInput | StorageFailure> =>
    Effect.gen(function* () {
      const where: Array<string> = []
      const params: Array<SqlValue> = []
      if (query.kind !== undefined) {
        where.push("kind = ?")
        params.push(query.kind)
      }
      if (!query.includeDestroyed) where.push("destroyed = 0")
      if (query.connectedOnly) where.push("connections > 0")
      if (query.cursor !== undefined && query.cursor !== null) {
        const [kind, id] = yield* decodeCursor(query.cursor)
        where.push("(kind > ? OR (kind = ? AND id > ?))")
        params.push(kind, kind, id)
      }
      const rows = yield* sql.all<Row>(
        `SELECT kind, id, messages, members, connections, destroyed FROM entries ${where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY kind, id LIMIT ?`,
        ...params,
        query.limit + 1,
      )
      const page = rows.slice(0, query.limit)
      const last = page[page.length - 1]
      return {
        resources: page.map((row): ResourceSummary => ({ kind: row.kind, id: row.id, messages: row.messages, members: row.members, connections: row.connections, destroyed: row.destroyed === 1 })),
        nextCursor: rows.length > query.limit && last !== undefined ? encodeCursor(last) : null,
      } satisfies ResourcePage
    })
