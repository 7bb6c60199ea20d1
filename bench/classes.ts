/** The floors' and peers' Durable Object classes; each workload family adds its exports here. */
export { YjsForwardFloor } from "./floors/YjsForwardFloor.js"
export { YjsPartyPeer } from "./peers/YjsPartyPeer.js"
