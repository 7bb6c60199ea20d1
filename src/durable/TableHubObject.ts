/** The Durable Object class hosting one table hub (a table partition's change stream). Bind it as `REALTIME_TABLE_HUBS`. @since 0.1.0 */
import { hubMigrations, makeTableHub } from "../db/hub/TableHub.js"
import type { ResolvedConfig } from "../Config.js"
import type { ActorAddress } from "../internal/ActorAddress.js"
import { databaseInstance } from "../db/Declaration.js"
import type { InstanceNotDeclared } from "../RealtimeError.js"
import { ActorHost } from "./ActorHost.js"

export class RealtimeTableHub extends ActorHost {
  protected readonly kind = "tableHub" as const
  protected readonly migrations = hubMigrations
  protected readonly makeActor = makeTableHub

  protected override resolveInstance(address: ActorAddress): ResolvedConfig | InstanceNotDeclared {
    return databaseInstance(address.instance, this.kind)
  }
}
