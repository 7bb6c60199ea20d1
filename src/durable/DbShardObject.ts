/**
 * The Durable Object class hosting one database shard. Bind it as `REALTIME_DB_SHARDS`.
 *
 * Reads (`get`, `select`, `snapshot`, `outbox`) are synchronous SQLite reads, atomic without the
 * mailbox, so they run beside it: a hub reading a snapshot while holding its own mailbox must not
 * wait behind a write whose drain waits on that hub.
 * @since 0.1.0
 */
import { Exit, Runtime, Schema } from "effect"
import { InstanceNotDeclared, InvalidInput, invalidInputFromParseError } from "../RealtimeError.js"
import { databaseInstance } from "../db/Declaration.js"
import type { ActorAddress } from "../internal/ActorAddress.js"
import type { ResolvedConfig } from "../Config.js"
import { ActorRequest } from "../internal/ActorAddress.js"
import { makeDbShard, READ_OPERATIONS } from "../db/shard/DbShard.js"
import { lookup } from "../internal/Operations.js"
import { encodeExit } from "../internal/rpc.js"
import * as HubChangeStore from "../storage/HubChangeStore.js"
import { partitionMigrations } from "../storage/HubChangeStore.js"
import { ActorHost } from "./ActorHost.js"

/**
 * The stores this kind's actor uses: the change buffers of the partitions it streams itself
 * (`streamFrom: "shard"` tables); its user tables and outbox it writes over `Sql`.
 */
const dbShardStores = [HubChangeStore.sqlite] as const

export class RealtimeDbShard extends ActorHost<typeof dbShardStores> {
  protected readonly kind = "dbShard" as const
  // The user tables' and outbox's migrations come from the database declaration (the actor runs them
  // on boot); the host runs the partition buffers' (empty unless a table streams from its shards).
  protected readonly migrations = partitionMigrations
  protected readonly stores = dbShardStores
  protected readonly makeActor = makeDbShard

  protected override resolveInstance(address: ActorAddress): ResolvedConfig | InstanceNotDeclared {
    return databaseInstance(address.instance, this.kind)
  }

  override invoke(raw: unknown): unknown {
    // Writes go to the host (its synchronous path, or the mailbox), which decodes the request: decoding it here too doubled the work.
    const op = raw !== null && typeof raw === "object" ? (raw as { readonly op?: unknown }).op : undefined
    if (typeof op !== "string" || !READ_OPERATIONS.has(op)) return super.invoke(raw)
    return this.read(raw)
  }

  private async read(raw: unknown): Promise<unknown> {
    const decoded = Schema.decodeUnknownEither(ActorRequest)(raw)
    if (decoded._tag === "Left") return encodeExit(Exit.fail(invalidInputFromParseError(decoded.left, "request")))
    const hosted = await this.hosted(decoded.right.address)
    if (hosted instanceof InstanceNotDeclared) return encodeExit(Exit.fail(hosted))
    const handler = hosted === undefined ? undefined : lookup(hosted.behavior.operations, decoded.right.op)
    if (hosted === undefined || handler === undefined) return encodeExit(Exit.fail(new InvalidInput({ field: "op", message: `op: unknown read "${decoded.right.op}"` })))
    return encodeExit(await Runtime.runPromiseExit(hosted.runtime)(handler(decoded.right.input, decoded.right.caller)))
  }
}
