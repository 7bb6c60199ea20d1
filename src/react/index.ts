/**
 * `durable-realtime/react`: hooks over `durable-realtime/client` for rooms, channels, presence,
 * Yjs documents and database tables. React 18 and 19; safe to render on a server (nothing connects
 * until an effect runs); one socket per resource per provider, also under Strict Mode.
 *
 * @example
 * ```tsx
 * import { RealtimeProvider, RoomProvider, useMessages, useMyPresence, useOthers, useRoom } from "durable-realtime/react"
 *
 * const grant = (kind, id) => fetch(`/api/grants/${kind}/${encodeURIComponent(id)}`).then((r) => r.json())
 * const history = (kind, id, { limit, cursor }) => fetch(`/api/${kind}s/${id}/messages?limit=${limit}&cursor=${cursor ?? ""}`).then((r) => r.json())
 *
 * const Chat = () => {
 *   const { status, publish } = useRoom<{ text: string }>()
 *   const { messages, loadOlder } = useMessages<{ text: string }>({ limit: 50 })
 *   const others = useOthers<{ cursor?: { x: number; y: number } }>()
 *   const [, updatePresence] = useMyPresence<{ cursor?: { x: number; y: number } }>()
 *   ...
 * }
 *
 * <RealtimeProvider grant={grant} history={history}>
 *   <RoomProvider id="lobby" initialPresence={{}}><Chat /></RoomProvider>
 * </RealtimeProvider>
 * ```
 *
 * @since 0.1.0
 */
export { RealtimeProvider, RoomProvider, useRealtimeClient, useRoomStore, type RealtimeProviderProps, type RoomProviderProps } from "./Provider.js"
export {
  createRoomHooks,
  useChannel,
  useChannelMessages,
  useEvent,
  useMembers,
  useMessages,
  useMyPresence,
  useOthers,
  useRoom,
  useSelf,
  useTable,
  useYDoc,
  type MessagesApi,
  type RoomApi,
} from "./hooks.js"
export {
  createRealtimeClient,
  RealtimeClient,
  type GrantFetcher,
  type GrantKind,
  type GrantOf,
  type GrantRequestOptions,
  type HistoryLoader,
  type HistoryPageEncoded,
  type HistoryQueryOptions,
  type RealtimeClientOptions,
  type SharedStore,
} from "./RealtimeClient.js"
export { createStore, type ExternalStore, type ReadableStore } from "./ExternalStore.js"
export { emptyMessageList, mergeMessages, type MessageListState, type TypedMessage } from "./Messages.js"
export { memberIdOf, RoomStore, roomStoreOf, type Presence, type RoomEvent, type RoomStatus, type TypedMember } from "./RoomStore.js"
export { applyChange, TableStore, tableStoreOf, type TableState, type TableStoreOptions } from "./TableStore.js"
export { YDocStore, yDocStoreOf, type YDocState, type YDocStatus } from "./YDocStore.js"
export { throttlePatches, type PatchThrottle } from "./Throttle.js"
