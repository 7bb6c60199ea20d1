/**
 * durable-realtime: rooms, channels, presence, history, Yjs documents and database change streams
 * for Cloudflare Workers, each an Effect actor inside a Durable Object.
 * @since 0.1.0
 */
export { Realtime, makeRealtime, type RealtimeService, type RoomHandle, type ChannelHandle, type CrdtRoomHandle, type DocumentStats } from "./Realtime.js"
export { realtime, runToPromise, type RealtimeFacade } from "./facade.js"
export { declareRealtime, type RealtimeDeclaration, type RealtimeOptions, type IdentityHeaders, type RealtimeBindings, type YjsOptions } from "./Config.js"
export * from "./RealtimeError.js"
export * from "./schema/Common.js"
export * from "./schema/Message.js"
export * from "./schema/Room.js"
export { CurrentRequest, actorFromHeaders } from "./services/Identity.js"
export type { LiveHooks, LiveHookApi, LiveConnectionInfo } from "./Config.js"
export * from "./schema/Protocol.js"
export * from "./schema/Members.js"
export { liveHandler, liveRouter } from "./http/LiveRoutes.js"
export { decodePathId, decodePathIdEither, decodePathIdSync } from "./http/PathId.js"
export * from "./schema/Crdt.js"
export { revertUpdate } from "./actors/crdt/Revert.js"
