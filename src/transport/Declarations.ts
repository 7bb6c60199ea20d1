/**
 * The transport instances declared in this isolate, by name.
 *
 * A Durable Object runs in its own isolate and may wake there after hibernation, where no request
 * of the Worker ever ran: everything the hub needs (socket handlers, channels, limits) must come
 * from `createRealtime(...)` and `realtime.channel(...)` calls made when the module is imported.
 * Declarations close once the instance has served its first call, so a declaration made while
 * handling a request fails loudly instead of working only in the isolate that happened to run it.
 *
 * @since 0.1.0
 */
import { InvalidInput } from "../RealtimeError.js"
import type { ResolvedConfig } from "../Config.js"
import type { TransportIdentity } from "./Schema.js"

/** A socket as the handlers see it, inside the hub that holds it. */
export interface TransportSocket {
  /** The connection id (also what `sendTo(socket, ...)` addresses). */
  readonly id: string
  /** The user `identify(request)` returned for this connection. */
  readonly userId: string
  readonly user: TransportIdentity
  /** Send one raw text (or binary) message to this socket. */
  readonly send: (message: string | ArrayBuffer | ArrayBufferView) => void
  /** Close this socket (default 1000). */
  readonly close: (code?: number, reason?: string) => void
}

export interface SocketHandlers {
  /** Each text message a client sends (channel subscribe messages excepted), as it arrived. */
  readonly onMessage?: (socket: TransportSocket, message: string) => unknown
  /** After a socket closed (by the client, the network, or the server). */
  readonly onClose?: (socket: TransportSocket) => unknown
}

export interface ChannelHandlers {
  /** A client subscribed with `{"type":"subscribe","channel":"<name>"}`. Throw to refuse it. */
  readonly onJoin?: (socket: TransportSocket, userId: string) => unknown
  /** A client unsubscribed, or its socket closed. */
  readonly onLeave?: (socket: TransportSocket, userId: string) => unknown
}

export interface Declared {
  readonly name: string
  /** The instance key of the hub's address (kept apart from `realtime({ name })` instances). */
  readonly key: string
  readonly driver: "sse" | "websocket"
  readonly handlers: SocketHandlers
  readonly channels: Map<string, ChannelHandlers>
  readonly binding: string
  readonly config: ResolvedConfig
  /** Set at the first call that serves traffic: later declarations are refused. */
  sealed: boolean
}

const declared = new Map<string, Declared>()

export const instanceKey = (name: string) => `transport:${name}`

export const declare = (entry: Declared): Declared => {
  if (declared.has(entry.key)) {
    throw new InvalidInput({
      field: "name",
      message: `name: a transport instance "${entry.name}" is already declared; give each createRealtime(...) its own name`,
    })
  }
  declared.set(entry.key, entry)
  return entry
}

/** The declaration of an instance key in this isolate, if the module that declares it was imported. */
export const declaredInstance = (key: string): Declared | undefined => declared.get(key)
