/**
 * The Durable Object class hosting the transport hub of `createRealtime(...)` instances (one hub
 * per instance). Bind it as `REALTIME_TRANSPORT`. @since 0.1.0
 */
import { hubMigrations, makeTransportHub } from "../transport/Hub.js"
import * as ChannelMembershipStore from "../storage/ChannelMembershipStore.js"
import { ActorHost } from "./ActorHost.js"

/** The stores this kind's actor uses (its channel memberships); its objects build no others. */
const transportHubStores = [ChannelMembershipStore.sqlite] as const

export class RealtimeTransportHub extends ActorHost<typeof transportHubStores> {
  protected readonly kind = "transportHub" as const
  protected readonly migrations = hubMigrations
  protected readonly stores = transportHubStores
  protected readonly makeActor = makeTransportHub
}
