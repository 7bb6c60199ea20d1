/**
 * Grants for rooms, channels and CRDT rooms: what `authorize` takes and returns to a browser, and
 * what the Worker hands the object with a forwarded live request (the verified grant, in a header
 * the Worker always overwrites, so a client can never set it, and the transport).
 * @since 0.1.0
 */
import { Schema } from "effect"
import { Actor } from "./Common.js"
import { LivePermission } from "./Protocol.js"

/** Headers the Worker sets on a forwarded live request. */
export const LiveHeaders = { grant: "x-durable-realtime-grant", transport: "x-durable-realtime-transport" } as const

/** The verified grant as the Worker forwards it. */
export const ForwardedGrant = Schema.Struct({
  actor: Actor,
  permissions: Schema.Array(LivePermission),
  expiresAt: Schema.Number,
})
export type ForwardedGrant = typeof ForwardedGrant.Type

/** What `room(id).authorize(...)` / `channel(id).authorize(...)` take. */
export const AuthorizeInput = Schema.Struct({
  actor: Actor,
  permissions: Schema.optionalWith(Schema.Array(LivePermission), { default: () => ["read", "publish", "presence"] as const }),
  ttlSeconds: Schema.optionalWith(Schema.Number.pipe(Schema.int(), Schema.between(1, 24 * 3600)).annotations({ description: "whole seconds from 1 to 86400" }), { default: () => 3600 }),
  /** Origin to prefix the URL with (`https://app.example.com`); the URL is path-only without it. */
  baseUrl: Schema.optional(Schema.String),
})
export type AuthorizeInput = typeof AuthorizeInput.Encoded

/** What a browser needs to connect: `new WebSocket(url, protocols)`. */
export const LiveGrant = Schema.Struct({
  /** WebSocket URL (path-only unless `baseUrl` was given; `ws(s):` when it was). */
  url: Schema.String,
  /** The SSE URL of the same room or channel. */
  eventsUrl: Schema.String,
  protocols: Schema.Array(Schema.String),
  token: Schema.String,
  /** Epoch milliseconds. */
  expiresAt: Schema.Number,
})
export type LiveGrant = typeof LiveGrant.Type

/**
 * A CRDT room grant: the room's JSON connection as for rooms, plus what an unmodified y-websocket
 * provider needs: `new WebsocketProvider(yjs.serverUrl, yjs.roomName, doc, { protocols: yjs.protocols })`.
 */
export const CrdtGrant = Schema.Struct({
  ...LiveGrant.fields,
  yjs: Schema.Struct({ serverUrl: Schema.String, roomName: Schema.String, url: Schema.String, protocols: Schema.Array(Schema.String) }),
})
export type CrdtGrant = typeof CrdtGrant.Type
