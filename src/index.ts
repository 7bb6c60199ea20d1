/**
 * durable-realtime: rooms, channels, presence, history, Yjs documents and database change streams
 * for Cloudflare Workers, each an Effect actor inside a Durable Object.
 *
 * The public surface: what an application writes (the service, the Promise facade, declarations,
 * options and hooks, the live routes), the typed errors, and the Schemas of every operation's input
 * and result (to decode them at an application's own edges). Wire frames live in
 * `durable-realtime/client`, the Durable Object classes in `durable-realtime/durable`, the database
 * in `durable-realtime/db`; everything else is internal.
 * @since 0.1.0
 */

// The service, the Promise facade and declarations
export { Realtime, type RealtimeService, type RoomHandle, type ChannelHandle, type CrdtRoomHandle, type DocumentStats } from "./Realtime.js"
export { realtime, type RealtimeFacade, type WorkerHandler } from "./facade.js"
export {
  declareRealtime,
  type RealtimeDeclaration,
  type RealtimeOptions,
  type IdentityHeaders,
  type Identify,
  type IdentifyResult,
  type RealtimeBindings,
  type YjsOptions,
  type LiveHooks,
  type LiveHookApi,
  type LiveConnectionInfo,
} from "./Config.js"
export { CurrentRequest, actorFromHeaders, identityFromHeaders } from "./services/Identity.js"
export { liveHandler, liveRouter } from "./http/LiveRoutes.js"
export { decodePathId, decodePathIdEither, decodePathIdSync } from "./http/PathId.js"
export { parseJsonText, readJsonBody, readJsonBodyPromise, type JsonBodyOptions } from "./http/JsonBody.js"

// Errors
export {
  InvalidInput,
  PayloadTooLarge,
  RoomDestroyed,
  NotFound,
  Unauthorized,
  Forbidden,
  LimitExceeded,
  ConstraintViolation,
  IdempotencyConflict,
  StorageFailure,
  InstanceNotDeclared,
  ConfigurationError,
  RealtimeError,
  httpStatus,
  errorBody,
  toResponse,
  isRealtimeError,
  invalidInputFromParseError,
  CloseCode,
} from "./RealtimeError.js"

// Schemas of inputs and results
export { Actor, ResourceId, JsonValue, JsonObject } from "./schema/Common.js"
export { PublishInput, BroadcastInput, StoredMessage, PublishResult, BroadcastResult, HistoryQuery, HistoryPage } from "./schema/Message.js"
export { SetMetadataInput, RoomMetadata, LifecycleStatus, RoomState, DestroyInput, DestroyResult, ChannelStats, InstanceStats } from "./schema/Room.js"
export { JoinInput, LeaveInput, PresenceInput, JoinResult, LeaveResult, MembersResult, SendToResult } from "./schema/Members.js"
export { Member, Presence, Position, LivePermission } from "./schema/Protocol.js"
export { AuthorizeInput, LiveGrant, CrdtGrant } from "./schema/LiveGrant.js"
export {
  ApplyYjsUpdateInput,
  ApplyYjsUpdateResult,
  SyncYjsInput,
  SyncYjsResult,
  SetAwarenessInput,
  AwarenessResult,
  StreamQuery,
  StreamEntry,
  StreamPage,
  CompactResult,
  SnapshotInput,
  SnapshotInfo,
  SnapshotsResult,
  RestoreInput,
  RestoreResult,
} from "./schema/Crdt.js"

// The inspector (behind your own admin check)
export { Inspect, INSPECT_LAST_MESSAGES, type ChannelDetails, type DatabaseOverview, type DocumentDetails, type HubPage, type HubState, type HubSummary, type RoomDetails, type ShardBacklog } from "./inspect/Inspector.js"
export { inspectorHandler, type InspectableInstance, type InspectorOptions } from "./inspect/InspectorRoutes.js"
export { ResourceListQuery, ResourcePage, ResourceSummary, type ResourceKind } from "./schema/Resources.js"
