/**
 * `durable-realtime/client`: connect browsers and Node 22+ to rooms and channels.
 * @since 0.1.0
 */
export { connectChannel, connectRoom, type ChannelClient, type PublishMessage, type RoomClient } from "./LiveClient.js"
export { LiveConnection, type ConnectionError, type ConnectionOptions, type ConnectionState, type GrantSource, type Timers } from "./Connection.js"
export { ConnectFailed, webSocketConnector, type Connector, type SocketLike } from "./Socket.js"
export { backoffDelay, type BackoffOptions } from "./Backoff.js"
export { applyMemberFrame } from "./MembersView.js"
export {
  subscribeTable,
  grantExpiryMs,
  type SubscribeTableOptions,
  type TableChange,
  type TableGap,
  type TableGrant,
  type TableGrantSource,
  type TableRow,
  type TableSnapshot,
  type TableStatus,
  type TableSubscription,
} from "./TableClient.js"
export { connectionErrorToRealtimeError, errorFromClose, errorFromStatus, errorFromTag } from "./Errors.js"
export * from "./types.js"
export { ServerFrame, ClientFrame, formatPosition, parsePosition, CloseCode } from "../schema/Protocol.js"
