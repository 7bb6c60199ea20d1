/**
 * `durable-realtime/transport`: the SSE/WebSocket transport API (seed 004) on Durable Objects.
 * Export `RealtimeTransportHub` from your Worker and bind it as `REALTIME_TRANSPORT`.
 * @since 0.1.0
 */
export { createRealtime } from "./createRealtime.js"
export type { ConnectionTarget, TransportEffects, TransportOptions, TransportRealtime, TransportStream, TransportStreamEffects } from "./createRealtime.js"
export type { ChannelHandlers, SocketHandlers, TransportSocket } from "./Declarations.js"
export type { Identify, IdentifyResult } from "../Config.js"
export { ChannelName, Delivered, EventName, HubStats, TransportEvent, TransportIdentity } from "./Schema.js"
export { RealtimeTransportHub } from "../durable/TransportHubObject.js"
export { ConfigurationError, InstanceNotDeclared, InvalidInput, LimitExceeded, PayloadTooLarge, StorageFailure, Unauthorized, httpStatus, errorBody, toResponse, isRealtimeError } from "../RealtimeError.js"
