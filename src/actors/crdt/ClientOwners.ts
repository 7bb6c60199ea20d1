/**
 * Who owns each Yjs client id of a document: the actor that first wrote structs under it, or
 * first announced awareness under it. A client id is a provider's identity inside the document
 * (every struct it creates and its awareness entry carry it), so letting a second actor write
 * under it would let one editor put words in another's mouth and fork replicas for good (two
 * different structs with one id).
 *
 * Bindings live in the CRDT room's SQLite and are loaded into a map once at wake, so checking an
 * update costs one map lookup per client id it writes. A binding is never moved: reconnects of the
 * same actor (same grant actor, any connection) keep writing; any other actor is refused.
 *
 * The owner is the actor's `type:id` (its name may change and does not matter). Bindings of ids
 * that never wrote to the document (awareness only) are forgotten at a wake once a day old.
 *
 * @since 0.2.0
 */
import { Effect } from "effect"
import type { Actor } from "../../schema/Common.js"
import type { RawExec, SqlShape } from "../../services/Sql.js"

export const clientOwnersMigration = {
  name: "yjs_002_client_owners",
  statements: [
    `CREATE TABLE IF NOT EXISTS yjs_client_owners (
      client_id INTEGER PRIMARY KEY,
      owner TEXT NOT NULL,
      bound_at INTEGER NOT NULL
    )`,
  ],
}

/** The key a binding stores: type and id, never the (changeable) name. */
export const ownerKey = (actor: Actor): string => `${actor.type}:${actor.id}`

export const makeClientOwners = (sql: SqlShape) =>
  Effect.gen(function* () {
    const owners = new Map<number, string>()
    const rows = yield* Effect.orDie(sql.all<{ client_id: number; owner: string }>("SELECT client_id, owner FROM yjs_client_owners"))
    for (const row of rows) owners.set(row.client_id, row.owner)

    /** The first of `clients` bound to an actor other than `owner`, if any. */
    const foreign = (clients: Iterable<number>, owner: string): number | undefined => {
      for (const client of clients) {
        const bound = owners.get(client)
        if (bound !== undefined && bound !== owner) return client
      }
      return undefined
    }

    /** The unbound ones of `clients`. */
    const unbound = (clients: Iterable<number>): Array<number> => {
      const fresh: Array<number> = []
      for (const client of clients) if (!owners.has(client)) fresh.push(client)
      return fresh
    }

    /**
     * Bind the unbound ones of `clients` to `owner`, inside the caller's transaction (so an update
     * and the bindings it creates are stored together). Call `commit` with the same list once the
     * transaction succeeded, to update the map.
     */
    const bindIn = (exec: RawExec, clients: ReadonlyArray<number>, owner: string, now: number) => {
      for (const client of clients) exec("INSERT OR IGNORE INTO yjs_client_owners (client_id, owner, bound_at) VALUES (?, ?, ?)", client, owner, now)
    }
    const commit = (clients: ReadonlyArray<number>, owner: string) => {
      for (const client of clients) if (!owners.has(client)) owners.set(client, owner)
    }

    /** Undo `commit` for bindings whose transaction failed after they were committed in memory. */
    const forget = (clients: ReadonlyArray<number>) => {
      for (const client of clients) owners.delete(client)
    }

    /** Bind in a transaction of its own (awareness announcements). */
    const bind = (clients: ReadonlyArray<number>, owner: string, now: number) =>
      clients.length === 0
        ? Effect.void
        : Effect.map(
            sql.transaction((exec) => bindIn(exec, clients, owner, now)),
            () => commit(clients, owner),
          )

    /**
     * Forget bindings older than `before` whose client never wrote to the document (`wrote` says
     * whether it did): ids only ever used for awareness, one per provider session, which would
     * otherwise pile up with every page load of every viewer. Writers' bindings are kept for good.
     */
    const pruneUnwritten = (before: number, wrote: (client: number) => boolean) =>
      Effect.gen(function* () {
        const old = yield* sql.all<{ client_id: number }>("SELECT client_id FROM yjs_client_owners WHERE bound_at < ?", before)
        const stale = old.map((row) => row.client_id).filter((client) => !wrote(client))
        if (stale.length === 0) return 0
        yield* sql.transaction((exec) => {
          for (const client of stale) exec("DELETE FROM yjs_client_owners WHERE client_id = ?", client)
        })
        for (const client of stale) owners.delete(client)
        return stale.length
      })

    /** Forget every binding (the document itself was deleted). */
    const clearIn = (exec: RawExec) => {
      exec("DELETE FROM yjs_client_owners")
    }
    const cleared = () => owners.clear()

    return { ownerOf: (client: number) => owners.get(client), foreign, unbound, bindIn, commit, forget, bind, pruneUnwritten, clearIn, cleared, size: () => owners.size }
  })

export type ClientOwners = Effect.Effect.Success<ReturnType<typeof makeClientOwners>>
