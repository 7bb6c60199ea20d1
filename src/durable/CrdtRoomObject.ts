/** The Durable Object class hosting one CRDT room actor. Bind it as `REALTIME_CRDT_ROOMS`. @since 0.1.0 */
import { crdtRoomMigrations, makeCrdtRoom } from "../actors/crdt/CrdtRoom.js"
import * as ActorFacts from "../storage/ActorFacts.js"
import * as MessageStore from "../storage/MessageStore.js"
import * as MemberStore from "../storage/MemberStore.js"
import * as SnapshotStore from "../storage/SnapshotStore.js"
import * as YjsDocumentStore from "../storage/YjsDocumentStore.js"
import { ActorHost } from "./ActorHost.js"

/** The stores this kind's actor uses (a room's, and the document's update log); its objects build no others. */
const crdtRoomStores = [ActorFacts.sqlite, MessageStore.sqlite, MemberStore.sqlite, SnapshotStore.sqlite, YjsDocumentStore.sqlite] as const

export class RealtimeCrdtRoom extends ActorHost<typeof crdtRoomStores> {
  protected readonly kind = "crdtRoom" as const
  protected readonly migrations = crdtRoomMigrations
  protected readonly stores = crdtRoomStores
  protected readonly makeActor = makeCrdtRoom
}
