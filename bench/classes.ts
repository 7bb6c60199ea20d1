/** The floors' and peers' Durable Object classes; each workload family adds its exports here. */
export { DbflowCountedHub, DbflowCountedShard } from "./dbflow/counted.js"
export { DbflowOutboxFloor } from "./dbflow/floor.js"
