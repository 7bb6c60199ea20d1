/** The Durable Object class hosting one CRDT room actor. Bind it as `REALTIME_CRDT_ROOMS`. @since 0.1.0 */
import { crdtRoomMigrations, makeCrdtRoom } from "../actors/crdt/CrdtRoom.js"
import { ActorHost } from "./ActorHost.js"

export class RealtimeCrdtRoom extends ActorHost {
  protected readonly kind = "crdtRoom" as const
  protected readonly migrations = crdtRoomMigrations
  protected readonly makeActor = makeCrdtRoom
}
