/** The Durable Object class hosting one room actor. Bind it as `REALTIME_ROOMS`. @since 0.1.0 */
import { makeRoom, roomMigrations } from "../actors/room/Room.js"
import * as ActorFacts from "../storage/ActorFacts.js"
import * as MessageStore from "../storage/MessageStore.js"
import * as MemberStore from "../storage/MemberStore.js"
import * as SnapshotStore from "../storage/SnapshotStore.js"
import { ActorHost } from "./ActorHost.js"

/** The stores this kind's actor uses (its facts, message log, members and snapshots); its objects build no others. */
const roomStores = [ActorFacts.sqlite, MessageStore.sqlite, MemberStore.sqlite, SnapshotStore.sqlite] as const

export class RealtimeRoom extends ActorHost<typeof roomStores> {
  protected readonly kind = "room" as const
  protected readonly migrations = roomMigrations
  protected readonly stores = roomStores
  protected readonly makeActor = makeRoom
}
