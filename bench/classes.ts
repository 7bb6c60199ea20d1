/** The floors' and peers' Durable Object classes; each workload family adds its exports here. */
export { DbflowCountedHub, DbflowCountedShard } from "./dbflow/counted.js"
export { DbflowOutboxFloor } from "./dbflow/floor.js"
export { YjsForwardFloor } from "./floors/YjsForwardFloor.js"
export { YjsPartyPeer } from "./peers/YjsPartyPeer.js"
export { FanoutLoopFloor } from "./floors/fanoutLoop.js"
export { FanoutPartyHibernating, FanoutPartyInMemory } from "./peers/fanoutParty.js"
export { InsertThenSendFloor, KeysetHistoryFloor, UniqueIdempotencyFloor } from "./floors/persist.js"
export { CountedRealtimeRoom } from "./persist-library.js"
