/**
 * The state of one room or channel connection as external stores, for hooks and for tests
 * without React: connection status, the message list (history, then live), members, and this
 * connection's presence with throttled sending.
 *
 * @since 0.1.0
 */
import {
  connectChannel,
  connectionErrorToRealtimeError,
  connectRoom,
  errorFromTag,
  type ChannelClient,
  type ConnectionOptions,
  type ConnectionState,
  type EventFrame,
  type Member,
  type PublishMessage,
  type RoomClient,
} from "../client/index.js"
import { StorageFailure, type RealtimeError } from "../RealtimeError.js"
import type { Actor } from "../schema/Common.js"
import { createStore, type ExternalStore } from "./ExternalStore.js"
import { emptyMessageList, mergeMessages, type MessageListState, type TypedMessage } from "./Messages.js"
import type { RealtimeClient, SharedStore } from "./RealtimeClient.js"
import { throttlePatches, type PatchThrottle } from "./Throttle.js"

export type Presence = Record<string, unknown>

export interface RoomStatus {
  readonly state: ConnectionState
  /** Why the connection is not live (or the last refused frame), as the library's tagged error. */
  readonly error: RealtimeError | undefined
  /** This connection's identity, once live. */
  readonly connectionId: string | undefined
  readonly actor: Actor | undefined
  readonly permissions: ReadonlyArray<string>
}

/** A member whose presence has the application's type. */
export type TypedMember<P extends Presence = Presence> = Omit<Member, "presence"> & { readonly presence: Partial<P> }

export type RoomEvent<Data = unknown> = Omit<EventFrame["event"], "data"> & { readonly data: Data }

const applyPatch = <P extends Presence>(presence: P, patch: Partial<P>): P => {
  const next: Record<string, unknown> = { ...presence }
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete next[key]
    else next[key] = value
  }
  return next as P
}

/** `"<type>:<id>"`: the member id of an actor (as the server keys members). */
export const memberIdOf = (actor: Actor): string => `${actor.type}:${actor.id}`

export class RoomStore<P extends Presence = Presence, Data = unknown> implements SharedStore {
  readonly status = createStore<RoomStatus>({ state: "connecting", error: undefined, connectionId: undefined, actor: undefined, permissions: [] })
  readonly messages = createStore<MessageListState<Data>>(emptyMessageList())
  readonly members = createStore<ReadonlyArray<TypedMember<P>>>([])
  readonly presence: ExternalStore<P>
  #client: RoomClient | ChannelClient | undefined
  #throttle: PatchThrottle | undefined
  #historyLimit: number | undefined
  #historyLoaded = false
  /** Bumped on every reset and stop, so a history page that arrives late for an old list is dropped. */
  #generation = 0
  readonly #eventHandlers = new Set<(event: RoomEvent) => void>()

  constructor(
    private readonly client: RealtimeClient,
    readonly kind: "room" | "channel",
    readonly id: string,
    initialPresence?: P,
  ) {
    this.presence = createStore<P>(initialPresence ?? ({} as P))
  }

  start(): void {
    const { options, timers } = this.client
    const connection: ConnectionOptions = {
      grant: () => options.grant(this.kind, this.id, {}),
      ...(options.baseUrl === undefined ? {} : { baseUrl: options.baseUrl }),
      ...(options.connect === undefined ? {} : { connect: options.connect }),
      ...(options.WebSocket === undefined ? {} : { WebSocket: options.WebSocket }),
      ...(options.backoff === undefined ? {} : { backoff: options.backoff }),
      ...(options.timers === undefined ? {} : { timers: options.timers }),
    }
    this.#generation++
    this.#historyLoaded = false
    this.messages.set(emptyMessageList(this.messages.get().resets))
    const room = this.kind === "room" ? connectRoom(connection) : undefined
    const client: ChannelClient = room ?? connectChannel(connection)
    this.#client = client
    this.#throttle = room === undefined ? undefined : throttlePatches((patch) => room.presence(patch), options.presenceThrottleMs ?? 50, timers)
    this.status.update((status) => ({ ...status, state: client.state() }))
    const context = { kind: this.kind, id: this.id } as const
    client.onState((state) => this.status.update((status) => ({ ...status, state, error: state === "live" ? undefined : status.error })))
    client.onError((error) => this.status.update((status) => ({ ...status, error: connectionErrorToRealtimeError(error, context) })))
    client.subscribe((message) => this.messages.update((list) => mergeMessages(list, [message as TypedMessage<Data>])))
    client.onEvent((event) => {
      for (const handler of [...this.#eventHandlers]) handler(event)
    })
    room?.onMembers((members) => this.members.set(members as ReadonlyArray<TypedMember<P>>))
    client.onFrame((frame) => {
      if (frame.type === "ready") {
        this.status.update((status) => ({ ...status, connectionId: frame.connectionId, actor: frame.actor, permissions: frame.permissions }))
        if (this.messages.get().epoch === undefined) this.messages.update((list) => mergeMessages(list, [], frame.epoch))
        // Presence lives as long as the socket: a new socket starts with the whole of it.
        const presence = this.presence.get()
        if (room !== undefined && Object.keys(presence).length > 0) room.presence(presence)
        this.#loadNewest()
      } else if (frame.type === "discontinuity") {
        // Missed messages cannot be replayed: start the list over from the new position.
        this.#generation++
        this.#historyLoaded = false
        this.messages.set({ ...emptyMessageList<Data>(this.messages.get().resets + 1), epoch: frame.epoch })
        this.#loadNewest()
      }
    })
  }

  stop(): void {
    this.#generation++
    this.#throttle?.cancel()
    this.#client?.close()
    this.#client = this.#throttle = undefined
    this.status.update((status) => ({ ...status, state: "closed" }))
  }

  /** Store and deliver a message; re-sent under its idempotency key across reconnects until acknowledged. */
  publish(message: PublishMessage): Promise<{ readonly message: TypedMessage<Data>; readonly duplicate: boolean }> {
    if (this.#client === undefined) return Promise.reject(new StorageFailure({ message: `${this.kind} ${this.id} is not connected` }))
    return (this.#client.publish(message) as Promise<{ readonly message: TypedMessage<Data>; readonly duplicate: boolean }>).catch(rethrowTagged)
  }

  /** An ephemeral event to the other connections; resolves with the recipient count. */
  broadcast(event: { readonly type: string; readonly data?: unknown }, options?: { readonly includeSelf?: boolean }): Promise<number> {
    if (this.#client === undefined) return Promise.reject(new StorageFailure({ message: `${this.kind} ${this.id} is not connected` }))
    return this.#client.broadcast(event, options).catch(rethrowTagged)
  }

  /** Merge into this connection's presence now (locally) and send it throttled. `null` removes a key. */
  updatePresence(patch: Partial<P>): void {
    this.presence.update((presence) => applyPatch(presence, patch))
    this.#throttle?.push(patch as Record<string, unknown>)
  }

  onEvent(handler: (event: RoomEvent) => void): () => void {
    this.#eventHandlers.add(handler)
    return () => this.#eventHandlers.delete(handler)
  }

  /** Ask for history: the newest `limit` messages load once the connection is live. */
  wantHistory(limit: number): void {
    if (this.#historyLimit !== undefined) return
    this.#historyLimit = limit
    if (this.status.get().state === "live") this.#loadNewest()
  }

  /** Load the page before the oldest message shown. */
  async loadOlder(): Promise<void> {
    const list = this.messages.get()
    const loader = this.client.options.history
    if (loader === undefined || typeof list.olderCursor !== "string" || list.loadingOlder) return
    const generation = this.#generation
    this.messages.set({ ...list, loadingOlder: true })
    try {
      const page = await loader(this.kind, this.id, { limit: this.#historyLimit ?? 50, cursor: list.olderCursor, direction: "backward" })
      if (generation !== this.#generation) return
      this.messages.update((current) => ({ ...mergeMessages(current, page.messages as ReadonlyArray<TypedMessage<Data>>, page.epoch), olderCursor: page.nextCursor, loadingOlder: false }))
    } catch (cause) {
      if (generation !== this.#generation) return
      this.messages.update((current) => ({ ...current, loadingOlder: false }))
      this.status.update((status) => ({ ...status, error: toError(cause) }))
    }
  }

  /** The newest page, loaded after `ready`, so nothing between the page and the live stream is missed. */
  #loadNewest(): void {
    const loader = this.client.options.history
    const limit = this.#historyLimit
    if (loader === undefined || limit === undefined || this.#historyLoaded) return
    this.#historyLoaded = true
    const generation = this.#generation
    this.messages.update((list) => ({ ...list, loadingOlder: true }))
    loader(this.kind, this.id, { limit, cursor: null, direction: "backward" }).then(
      (page) => {
        if (generation !== this.#generation) return
        this.messages.update((list) => ({ ...mergeMessages(list, page.messages as ReadonlyArray<TypedMessage<Data>>, page.epoch), olderCursor: page.nextCursor, loadingOlder: false }))
      },
      (cause) => {
        if (generation !== this.#generation) return
        this.#historyLoaded = false
        this.messages.update((list) => ({ ...list, loadingOlder: false }))
        this.status.update((status) => ({ ...status, error: toError(cause) }))
      },
    )
  }
}

/** A refused request (an `error` frame: `{ tag, message }`) or a lost connection, as a tagged error. */
const rethrowTagged = (cause: unknown): never => {
  const frame = cause as { tag?: unknown; message?: unknown }
  if (typeof frame?.tag === "string") throw errorFromTag(frame.tag, typeof frame.message === "string" ? frame.message : frame.tag)
  throw toError(cause)
}

/** A thrown value as a tagged error (error bodies from routes carry `_tag`). */
export const toError = (cause: unknown): RealtimeError => {
  const tagged = cause as { _tag?: unknown; message?: unknown }
  if (typeof tagged?._tag === "string" && typeof tagged.message === "string") return cause as RealtimeError
  return new StorageFailure({ message: cause instanceof Error ? cause.message : String(cause) })
}

/** The shared store of a room or channel in a client. */
export const roomStoreOf = <P extends Presence, Data>(client: RealtimeClient, kind: "room" | "channel", id: string, initialPresence?: P): { key: string; store: RoomStore<P, Data> } => {
  const key = `${kind}:${id}`
  return { key, store: client.store(key, () => new RoomStore<P, Data>(client, kind, id, initialPresence)) }
}
