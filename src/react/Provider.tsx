/**
 * `<RealtimeProvider>` (where grants and history come from) and `<RoomProvider>` (one room for
 * the components below it).
 *
 * @since 0.1.0
 */
import { createContext, useContext, useEffect, useState, type ReactNode } from "react"
import { createRealtimeClient, type RealtimeClient, type RealtimeClientOptions } from "./RealtimeClient.js"
import { roomStoreOf, type Presence, type RoomStore } from "./RoomStore.js"

const ClientContext = createContext<RealtimeClient | null>(null)
const RoomContext = createContext<RoomStore | null>(null)

export interface RealtimeProviderProps extends Partial<RealtimeClientOptions> {
  /** A client made with `createRealtimeClient` (else one is made from the other props, once). */
  readonly client?: RealtimeClient
  readonly children?: ReactNode
}

/**
 * Makes the client for everything below it. Its options are read once, at the first render:
 * pass stable functions (or a `client`).
 *
 * @example
 * ```tsx
 * <RealtimeProvider grant={(kind, id, { filters }) => fetch(`/api/grants/${kind}/${id}`, { method: "POST", body: JSON.stringify({ filters }) }).then((r) => r.json())}>
 *   <App />
 * </RealtimeProvider>
 * ```
 */
export const RealtimeProvider = ({ client, children, ...options }: RealtimeProviderProps): ReactNode => {
  const [value] = useState(() => {
    if (client !== undefined) return client
    if (options.grant === undefined) throw new Error("durable-realtime/react: <RealtimeProvider> needs `grant` (or `client`)")
    return createRealtimeClient(options as RealtimeClientOptions)
  })
  return <ClientContext.Provider value={value}>{children}</ClientContext.Provider>
}

/** The client of the nearest `<RealtimeProvider>`. */
export const useRealtimeClient = (): RealtimeClient => {
  const client = useContext(ClientContext)
  if (client === null) throw new Error("durable-realtime/react: wrap your components in <RealtimeProvider>")
  return client
}

export interface RoomProviderProps<P extends Presence> {
  readonly id: string
  /** This connection's presence when it joins (sent again on every reconnect, with later updates). */
  readonly initialPresence?: P
  readonly children?: ReactNode
}

/** Connects to room `id` while mounted: one socket per room per `<RealtimeProvider>`, however many components use it. */
export const RoomProvider = <P extends Presence = Presence>({ id, initialPresence, children }: RoomProviderProps<P>): ReactNode => {
  const client = useRealtimeClient()
  const { key, store } = roomStoreOf<P, unknown>(client, "room", id, initialPresence)
  useEffect(() => client.retain(key, store), [client, key, store])
  return <RoomContext.Provider value={store as unknown as RoomStore}>{children}</RoomContext.Provider>
}

/** The store of the nearest `<RoomProvider>`. */
export const useRoomStore = <P extends Presence = Presence, Data = unknown>(): RoomStore<P, Data> => {
  const store = useContext(RoomContext)
  if (store === null) throw new Error("durable-realtime/react: this hook needs a <RoomProvider> above it")
  return store as unknown as RoomStore<P, Data>
}
