/**
 * `durable-realtime/durable`: the Durable Object classes. Export them from your Worker's main
 * module and bind them in `wrangler.toml` (see the README).
 * @since 0.1.0
 */
export { RealtimeRoom } from "./RoomObject.js"
export { RealtimeChannel } from "./ChannelObject.js"
export { RealtimeDirectory } from "./DirectoryObject.js"
export { RealtimeCrdtRoom } from "./CrdtRoomObject.js"
export { RealtimeDbShard } from "./DbShardObject.js"
export { RealtimeTableHub } from "./TableHubObject.js"
export { RealtimeTransportHub } from "./TransportHubObject.js"
