/** The Durable Object class hosting one channel actor. Bind it as `REALTIME_CHANNELS`. @since 0.1.0 */
import { channelMigrations, makeChannel } from "../actors/channel/Channel.js"
import * as ActorFacts from "../storage/ActorFacts.js"
import * as MessageStore from "../storage/MessageStore.js"
import { ActorHost } from "./ActorHost.js"

/** The stores this kind's actor uses (its facts and message log); its objects build no others. */
const channelStores = [ActorFacts.sqlite, MessageStore.sqlite] as const

export class RealtimeChannel extends ActorHost<typeof channelStores> {
  protected readonly kind = "channel" as const
  protected readonly migrations = channelMigrations
  protected readonly stores = channelStores
  protected readonly makeActor = makeChannel
}
