/** The Durable Object class hosting one room actor. Bind it as `REALTIME_ROOMS`. @since 0.1.0 */
import { makeRoom, roomMigrations } from "../actors/room/Room.js"
import { ActorHost } from "./ActorHost.js"

export class RealtimeRoom extends ActorHost {
  protected readonly kind = "room" as const
  protected readonly migrations = roomMigrations
  protected readonly makeActor = makeRoom
}
