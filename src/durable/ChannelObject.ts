/** The Durable Object class hosting one channel actor. Bind it as `REALTIME_CHANNELS`. @since 0.1.0 */
import { channelMigrations, makeChannel } from "../actors/channel/Channel.js"
import { ActorHost } from "./ActorHost.js"

export class RealtimeChannel extends ActorHost {
  protected readonly kind = "channel" as const
  protected readonly migrations = channelMigrations
  protected readonly makeActor = makeChannel
}
