/**
 * The transport hub's operations, declared once with the shared mechanism (`internal/Operations.ts`):
 * the hub implements them from the declaration and the Worker calls them through it, so neither
 * side names an operation as a string nor casts a result: inputs are encoded and decoded, results too.
 *
 * @since 0.1.0
 */
import { Effect, Schema } from "effect"
import { PayloadTooLarge, type RealtimeError } from "../RealtimeError.js"
import * as Operations from "../internal/Operations.js"
import { callActor, type ActorNamespace } from "../internal/rpc.js"
import { ChannelName, ConnectionId, Delivered, HubStats, TransportEvent, UserId } from "./Schema.js"

export const HubOps = Operations.group({
  broadcast: { payload: Schema.Struct({ event: TransportEvent }), success: Delivered, error: PayloadTooLarge },
  sendToUser: { payload: Schema.Struct({ userId: UserId, event: TransportEvent }), success: Delivered, error: PayloadTooLarge },
  sendToConnection: { payload: Schema.Struct({ connectionId: ConnectionId, event: TransportEvent }), success: Delivered, error: PayloadTooLarge },
  channelBroadcast: { payload: Schema.Struct({ channel: ChannelName, event: TransportEvent }), success: Delivered, error: PayloadTooLarge },
  closeConnection: { payload: Schema.Struct({ connectionId: ConnectionId }), success: Delivered, error: Schema.Never },
  stats: { payload: Schema.Struct({}), success: HubStats, error: Schema.Never },
})

export const HUB_KIND = "transportHub"
/** One hub per instance (see the README: "Transport API", layout and limits). */
export const HUB_ID = "hub"

/** The Worker side: call an operation on an instance's hub and decode its result. */
export const callHub = <O extends Operations.Any>(
  namespace: ActorNamespace,
  instanceKey: string,
  op: O,
  input: Operations.Payload<O>,
): Effect.Effect<Operations.Success<O>, RealtimeError> =>
  // Callers decode at the edge; encoding here is the last line of defence before the RPC boundary.
  Effect.flatMap(op.encodePayload(input), (encoded) => callActor(namespace, HUB_KIND, { instance: instanceKey, id: HUB_ID }, op, encoded))
