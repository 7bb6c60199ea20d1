/**
 * The directory actor: one per instance, it keeps the latest report of every room and channel
 * (`DirectoryStore`: SQLite in the object), so `stats()` is right after restarts. A database has
 * one too (named by the database's `namespace/name`), where its table hubs report; hub rows are
 * never counted by `stats()`.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { handler, implement } from "../../internal/Operations.js"
import { DirectoryStore } from "../../storage/DirectoryStore.js"
import { ActorContext, type ActorBehavior } from "../Actor.js"
import { listResources } from "./DirectoryIndex.js"
import { DirectoryOps } from "../Ops.js"
import type { InstanceStats } from "../../schema/Room.js"

export { directoryMigrations } from "../../storage/DirectoryStore.js"

export const makeDirectory = Effect.gen(function* () {
  const store = yield* DirectoryStore
  const { address } = yield* ActorContext

  const report = handler(DirectoryOps.report, (entry) => store.put(entry))

  const stats = handler(DirectoryOps.stats, () => Effect.map(store.totals, (totals): InstanceStats => ({ instance: address.instance, ...totals })))

  // `list`: the paged index of resources (DirectoryIndex.ts).
  return { operations: implement(DirectoryOps, { report, stats, list: listResources(store) }), jobs: {} } satisfies ActorBehavior
})
