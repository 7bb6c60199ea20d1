/** The floors' and peers' Durable Object classes; each workload family adds its exports here. */
export { InsertThenSendFloor, KeysetHistoryFloor, UniqueIdempotencyFloor } from "./floors/persist.js"
export { CountedRealtimeRoom } from "./persist-library.js"
