/**
 * The hooks of `durable-realtime/react`. Each reads a small external store with
 * `useSyncExternalStore` (server renders read the initial snapshot and open nothing); sockets are
 * opened by effects, shared per resource through the provider's client.
 *
 * @since 0.1.0
 */
import type * as Y from "yjs"
import { useCallback, useEffect, useMemo, useRef, useSyncExternalStore } from "react"
import type { PublishMessage } from "../client/index.js"
import type { ReadableStore } from "./ExternalStore.js"
import type { MessageListState, TypedMessage } from "./Messages.js"
import { useRealtimeClient, useRoomStore } from "./Provider.js"
import { memberIdOf, roomStoreOf, type Presence, type RoomEvent, type RoomStatus, type RoomStore, type TypedMember } from "./RoomStore.js"
import { tableStoreOf, type TableState, type TableStoreOptions } from "./TableStore.js"
import { yDocStoreOf, type YDocState } from "./YDocStore.js"

const useStore = <T>(store: ReadableStore<T>): T => useSyncExternalStore(store.subscribe, store.get, store.get)

export interface RoomApi<Data = unknown> extends RoomStatus {
  readonly id: string
  /** Store and deliver a message. Idempotent: re-sent under the same key across reconnects until acknowledged. */
  readonly publish: (message: Omit<PublishMessage, "data"> & { readonly data?: Data }) => Promise<{ readonly message: TypedMessage<Data>; readonly duplicate: boolean }>
  /** An ephemeral event to the others (`includeSelf` to receive it too); resolves with the recipient count. */
  readonly broadcast: (event: { readonly type: string; readonly data?: unknown }, options?: { readonly includeSelf?: boolean }) => Promise<number>
}

const apiOf = <Data>(store: RoomStore<Presence, Data>, status: RoomStatus): RoomApi<Data> => ({
  ...status,
  id: store.id,
  publish: (message) => store.publish(message),
  broadcast: (event, options) => store.broadcast(event, options),
})

/** The room of the nearest `<RoomProvider>`: connection status (and why it is not live), `publish`, `broadcast`. */
export const useRoom = <Data = unknown>(): RoomApi<Data> => {
  const store = useRoomStore<Presence, Data>()
  const status = useStore(store.status)
  return useMemo(() => apiOf(store, status), [store, status])
}

export interface MessagesApi<Data> {
  /** Oldest first, each position once, ordered by `(epoch, seq)`. */
  readonly messages: ReadonlyArray<TypedMessage<Data>>
  /** Whether older history exists (a history loader is configured and the last page had a cursor). */
  readonly hasOlder: boolean
  readonly loading: boolean
  readonly loadOlder: () => Promise<void>
  /** How many times a discontinuity cleared the list (it then reloads the newest page). */
  readonly resets: number
}

const messagesApiOf = <Data>(store: RoomStore<Presence, Data>, list: MessageListState<Data>): MessagesApi<Data> => ({
  messages: list.messages,
  hasOlder: typeof list.olderCursor === "string",
  loading: list.loadingOlder,
  loadOlder: () => store.loadOlder(),
  resets: list.resets,
})

const useMessagesOf = <Data>(store: RoomStore<Presence, Data>, limit: number): MessagesApi<Data> => {
  useEffect(() => store.wantHistory(limit), [store, limit])
  const list = useStore(store.messages)
  return useMemo(() => messagesApiOf(store, list), [store, list])
}

/** The room's messages: the newest `limit` from history (with the provider's `history` loader), then live ones. */
export const useMessages = <Data = unknown>(options: { readonly limit?: number } = {}): MessagesApi<Data> =>
  useMessagesOf(useRoomStore<Presence, Data>(), options.limit ?? 50)

/** Everyone in the room, this connection's actor included. */
export const useMembers = <P extends Presence = Presence>(): ReadonlyArray<TypedMember<P>> => useStore(useRoomStore<P>().members)

/** This connection's own member entry (once live and listed). */
export const useSelf = <P extends Presence = Presence>(): TypedMember<P> | undefined => {
  const store = useRoomStore<P>()
  const status = useStore(store.status)
  const members = useStore(store.members)
  return useMemo(() => (status.actor === undefined ? undefined : members.find((member) => member.id === memberIdOf(status.actor!))), [status.actor, members])
}

/** Everyone in the room but this connection's actor. */
export const useOthers = <P extends Presence = Presence>(): ReadonlyArray<TypedMember<P>> => {
  const store = useRoomStore<P>()
  const status = useStore(store.status)
  const members = useStore(store.members)
  return useMemo(() => (status.actor === undefined ? members : members.filter((member) => member.id !== memberIdOf(status.actor!))), [status.actor, members])
}

/**
 * This connection's presence and its updater. Updates show locally at once and are sent at most
 * once per `presenceThrottleMs` (default 50 ms), merged; `null` removes a key.
 */
export const useMyPresence = <P extends Presence = Presence>(): readonly [P, (patch: Partial<P>) => void] => {
  const store = useRoomStore<P>()
  const presence = useStore(store.presence)
  const update = useCallback((patch: Partial<P>) => store.updatePresence(patch), [store])
  return [presence, update] as const
}

/** Call `handler` for every ephemeral event of `type` (broadcasts, `sendTo`, hooks). The latest handler is used. */
export const useEvent = <Data = unknown>(type: string, handler: (event: RoomEvent<Data>) => void): void => {
  const store = useRoomStore()
  const latest = useRef(handler)
  useEffect(() => {
    latest.current = handler
  })
  useEffect(
    () =>
      store.onEvent((event) => {
        if (event.type === type) latest.current(event as RoomEvent<Data>)
      }),
    [store, type],
  )
}

/** A shared store of the provider's client, retained while the component is mounted. */
const useRetained = <S>(make: () => { key: string; store: S & { start(): void; stop(): void } }, deps: ReadonlyArray<unknown>): S => {
  const client = useRealtimeClient()
  const { key, store } = useMemo(make, [client, ...deps])
  useEffect(() => client.retain(key, store), [client, key, store])
  return store
}

/** A channel: connection status, `publish`, `broadcast`. One socket per channel per provider. */
export const useChannel = <Data = unknown>(id: string): RoomApi<Data> => {
  const client = useRealtimeClient()
  const store = useRetained(() => roomStoreOf<Presence, Data>(client, "channel", id), [id])
  const status = useStore(store.status)
  return useMemo(() => apiOf(store, status), [store, status])
}

/** A channel's messages: history (with a `history` loader), then live. */
export const useChannelMessages = <Data = unknown>(id: string, options: { readonly limit?: number } = {}): MessagesApi<Data> => {
  const client = useRealtimeClient()
  const store = useRetained(() => roomStoreOf<Presence, Data>(client, "channel", id), [id])
  return useMessagesOf(store, options.limit ?? 50)
}

/**
 * A Yjs document of a CRDT room, synced by a stock y-websocket `WebsocketProvider` made from the
 * grant (a fresh grant on every reconnect). `provider` and `awareness` are undefined until connected.
 */
export const useYDoc = (docId: string): YDocState & { readonly doc: Y.Doc } => {
  const client = useRealtimeClient()
  const store = useRetained(() => yDocStoreOf(client, docId), [docId])
  const state = useStore(store.state)
  return useMemo(() => ({ ...state, doc: store.doc }), [state, store])
}

/**
 * The rows of a table that match `filters`, kept current by its change stream (snapshot first,
 * then every insert, update and delete; resumed after drops, resynchronised after gaps).
 */
export const useTable = <Row = Record<string, unknown>>(table: string, options: TableStoreOptions<Row> = {}): TableState<Row> => {
  const client = useRealtimeClient()
  const filtersKey = JSON.stringify(options.filters ?? {})
  const store = useRetained(() => tableStoreOf<Row>(client, table, options), [table, filtersKey])
  return useStore(store.state)
}

/** The hooks with your presence and message data types bound once. */
export const createRoomHooks = <P extends Presence, Data = unknown>() => ({
  useRoom: useRoom<Data>,
  useMessages: useMessages<Data>,
  useMembers: useMembers<P>,
  useOthers: useOthers<P>,
  useSelf: useSelf<P>,
  useMyPresence: useMyPresence<P>,
  useEvent: useEvent as <EventData = unknown>(type: string, handler: (event: RoomEvent<EventData>) => void) => void,
})
