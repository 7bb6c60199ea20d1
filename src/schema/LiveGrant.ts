/**
 * What the Worker hands a room or channel with a forwarded live request: the verified grant, in a
 * header the Worker always overwrites (a client can never set it), and the transport.
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
