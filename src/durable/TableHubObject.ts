/** The Durable Object class hosting one table hub (a table partition's change stream). Bind it as `REALTIME_TABLE_HUBS`. @since 0.1.0 */
import { hubMigrations, makeTableHub } from "../db/hub/TableHub.js"
import type { ResolvedConfig } from "../Config.js"
import type { ActorAddress } from "../internal/ActorAddress.js"
import { databaseInstance } from "../db/Declaration.js"
import type { InstanceNotDeclared } from "../RealtimeError.js"
import * as HubChangeStore from "../storage/HubChangeStore.js"
import { ActorHost } from "./ActorHost.js"

/** The stores this kind's actor uses (its change buffer); its objects build no others. */
const tableHubStores = [HubChangeStore.sqlite] as const

export class RealtimeTableHub extends ActorHost<typeof tableHubStores> {
  protected readonly kind = "tableHub" as const
  protected readonly migrations = hubMigrations
  protected readonly stores = tableHubStores
  protected readonly makeActor = makeTableHub

  protected override resolveInstance(address: ActorAddress): ResolvedConfig | InstanceNotDeclared {
    return databaseInstance(address.instance, this.kind)
  }
}
