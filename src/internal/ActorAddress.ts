/**
 * How the Worker names the actor a call or a forwarded request is for: the address stored by the
 * actor, the RPC envelope and the headers of a forwarded request. Both sides of the RPC boundary
 * (`rpc.ts` in the Worker, the host in the Durable Object) read them, so they sit below both.
 * @since 0.1.0
 */
import { Schema } from "effect"
import { Actor as ActorSchema, ResourceId } from "../schema/Common.js"

/** Where an actor lives: its instance and id. Stored on first use, so alarms know it too. */
export const ActorAddress = Schema.Struct({
  instance: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(128)),
  id: ResourceId,
})
export type ActorAddress = typeof ActorAddress.Type

/** One RPC message to an actor. `caller` is the identity the Worker resolved for the request. */
export const ActorRequest = Schema.Struct({
  address: ActorAddress,
  op: Schema.String,
  input: Schema.optional(Schema.Unknown),
  caller: Schema.optional(ActorSchema),
})
export type ActorRequest = typeof ActorRequest.Type

/** Header names the Worker uses to tell an object which actor a forwarded request is for. */
export const AddressHeaders = { instance: "x-durable-realtime-instance", id: "x-durable-realtime-id" } as const
