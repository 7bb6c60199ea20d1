/** The Durable Object class hosting one table hub (a table partition's change stream). Bind it as `REALTIME_TABLE_HUBS`. @since 0.1.0 */
import { hubMigrations, makeTableHub } from "../actors/TableHub.js"
import { ActorHost } from "./ActorHost.js"

export class RealtimeTableHub extends ActorHost {
  protected readonly kind = "tableHub" as const
  protected readonly migrations = hubMigrations
  protected readonly makeActor = makeTableHub
}
