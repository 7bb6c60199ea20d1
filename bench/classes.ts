/** The floors' and peers' Durable Object classes; each workload family adds its exports here. */
export { FanoutLoopFloor } from "./floors/fanoutLoop.js"
export { FanoutPartyHibernating, FanoutPartyInMemory } from "./peers/fanoutParty.js"
