/**
 * Who owns each Yjs client id of a document: the actor that first wrote structs under it, or
 * first announced awareness under it. A client id is a provider's identity inside the document
 * (every struct it creates and its awareness entry carry it), so letting a second actor write
 * under it would let one editor put words in another's mouth and fork replicas for good (two
 * different structs with one id).
 *
 * Bindings live in the room's `YjsDocumentStore` and are loaded into a map once at wake, so checking an
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
import { YjsDocumentStore, type Binding } from "../../storage/YjsDocumentStore.js"

export { clientOwnersMigration } from "../../storage/YjsDocumentStore.js"

/** The key a binding stores: type and id, never the (changeable) name. */
export const ownerKey = (actor: Actor): string => `${actor.type}:${actor.id}`

/** The bindings that give `clients` to `owner`, to store with the update that wrote them. */
export const bindingsOf = (clients: ReadonlyArray<number>, owner: string, boundAt: number): Array<Binding> =>
  clients.map((client) => ({ client, owner, boundAt }))

export const makeClientOwners = Effect.gen(function* () {
  const store = yield* YjsDocumentStore
  const owners = new Map<number, string>()
  for (const binding of yield* Effect.orDie(store.bindings)) owners.set(binding.client, binding.owner)

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
   * Take bindings into the map. The caller stores them (`bindingsOf`) in the transaction of the
   * update that wrote under them, so an update and its bindings are stored together.
   */
  const commit = (clients: ReadonlyArray<number>, owner: string) => {
    for (const client of clients) if (!owners.has(client)) owners.set(client, owner)
  }

  /** Undo `commit` for bindings whose transaction failed after they were committed in memory. */
  const forget = (clients: ReadonlyArray<number>) => {
    for (const client of clients) owners.delete(client)
  }

  /** Bind in a transaction of its own (awareness announcements). */
  const bind = (clients: ReadonlyArray<number>, owner: string, now: number) =>
    clients.length === 0 ? Effect.void : Effect.map(store.append([], bindingsOf(clients, owner, now)), () => commit(clients, owner))

  /**
   * Forget bindings older than `before` whose client never wrote to the document (`wrote` says
   * whether it did): ids only ever used for awareness, one per provider session, which would
   * otherwise pile up with every page load of every viewer. Writers' bindings are kept for good.
   */
  const pruneUnwritten = (before: number, wrote: (client: number) => boolean) =>
    Effect.gen(function* () {
      const stale = (yield* store.boundBefore(before)).filter((client) => !wrote(client))
      if (stale.length === 0) return 0
      yield* store.unbind(stale)
      for (const client of stale) owners.delete(client)
      return stale.length
    })

  /** Forget every binding in memory (the store forgot them with the document). */
  const cleared = () => owners.clear()

  return { ownerOf: (client: number) => owners.get(client), foreign, unbound, commit, forget, bind, pruneUnwritten, cleared, size: () => owners.size }
})

export type ClientOwners = Effect.Effect.Success<typeof makeClientOwners>
