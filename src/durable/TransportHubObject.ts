/**
 * The Durable Object class hosting the transport hub of `createRealtime(...)` instances (one hub
 * per instance). Bind it as `REALTIME_TRANSPORT`. @since 0.1.0
 */
import { hubMigrations, makeTransportHub } from "../transport/Hub.js"
import { ActorHost } from "./ActorHost.js"

export class RealtimeTransportHub extends ActorHost {
  protected readonly kind = "transportHub" as const
  protected readonly migrations = hubMigrations
  protected readonly makeActor = makeTransportHub
}
