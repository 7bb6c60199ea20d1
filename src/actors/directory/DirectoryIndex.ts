/**
 * The directory's index of resources: which rooms, channels and documents an instance has (and,
 * in a database's directory, which table hubs it has), with the counts they last reported, for
 * operators (the inspector).
 *
 * It reads the directory's entries (`DirectoryStore`: one per resource, kept current by the absolute
 * reports every actor sends), so it costs nothing on the write path. Listing is paged by keyset on
 * the entries' key `(kind, id)`: a page reads at most `limit` (≤ 100) rows however many
 * resources exist, and a cursor never skips or repeats a resource while others appear.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { InvalidInput, type StorageFailure } from "../../RealtimeError.js"
import type { ResourceListQuery, ResourcePage } from "../../schema/Resources.js"
import type { DirectoryStoreShape } from "../../storage/DirectoryStore.js"

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
  (store: DirectoryStoreShape) =>
  (query: typeof ResourceListQuery.Type): Effect.Effect<ResourcePage, InvalidInput | StorageFailure> =>
    Effect.gen(function* () {
      const after = query.cursor === undefined || query.cursor === null ? undefined : yield* decodeCursor(query.cursor)
      // One more than the page: whether there is a next page.
      const rows = yield* store.page({ kind: query.kind, includeDestroyed: query.includeDestroyed, connectedOnly: query.connectedOnly, after, limit: query.limit + 1 })
      const page = rows.slice(0, query.limit)
      const last = page[page.length - 1]
      return {
        resources: page,
        nextCursor: rows.length > query.limit && last !== undefined ? encodeCursor(last) : null,
      } satisfies ResourcePage
    })
