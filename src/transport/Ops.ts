/**
 * The transport hub's operations, declared once (name, input Schema, success Schema). The hub
 * implements them from the declaration and the Worker calls them through it, so neither side
 * names an operation as a string nor casts a result: inputs are encoded and decoded, results too.
 *
 * @since 0.1.0
 */
import { Effect, Schema } from "effect"
import { invalidInputFromParseError, StorageFailure, type RealtimeError } from "../RealtimeError.js"
import { decodeInput, type Operation } from "../actors/Actor.js"
import { callActor, type ActorNamespace } from "../internal/rpc.js"
import { ChannelName, ConnectionId, Delivered, HubStats, TransportEvent, UserId } from "./Schema.js"

export interface OpDeclaration<I, II, A, AI> {
  readonly name: string
  readonly input: Schema.Schema<I, II>
  readonly success: Schema.Schema<A, AI>
}

const declare = <I, II, A, AI>(name: string, input: Schema.Schema<I, II>, success: Schema.Schema<A, AI>): OpDeclaration<I, II, A, AI> => ({ name, input, success })

export const HubOps = {
  broadcast: declare("broadcast", Schema.Struct({ event: TransportEvent }), Delivered),
  sendToUser: declare("sendToUser", Schema.Struct({ userId: UserId, event: TransportEvent }), Delivered),
  sendToConnection: declare("sendToConnection", Schema.Struct({ connectionId: ConnectionId, event: TransportEvent }), Delivered),
  channelBroadcast: declare("channelBroadcast", Schema.Struct({ channel: ChannelName, event: TransportEvent }), Delivered),
  closeConnection: declare("closeConnection", Schema.Struct({ connectionId: ConnectionId }), Delivered),
  stats: declare("stats", Schema.Struct({}), HubStats),
} as const

export const HUB_KIND = "transportHub"
/** One hub per instance (see the README: "Transport API", layout and limits). */
export const HUB_ID = "hub"

/** The hub side: an operation from its declaration and a handler of decoded input. */
export const implement =
  <I, II, A, AI>(op: OpDeclaration<I, II, A, AI>, handler: (input: I) => Effect.Effect<A, RealtimeError>): Operation =>
  (raw) =>
    decodeInput(op.input)(raw).pipe(
      Effect.flatMap(handler),
      Effect.flatMap((value) => Effect.orDie(Schema.encode(op.success)(value))),
    )

/** The Worker side: call an operation on an instance's hub and decode its result. */
export const callHub = <I, II, A, AI>(
  namespace: ActorNamespace,
  instanceKey: string,
  op: OpDeclaration<I, II, A, AI>,
  input: I,
): Effect.Effect<A, RealtimeError> =>
  Effect.gen(function* () {
    // Callers decode at the edge; this is the last line of defence before the RPC boundary.
    const encoded = yield* Effect.mapError(Schema.encode(op.input)(input), (error) => invalidInputFromParseError(error))
    const raw = yield* callActor(namespace, HUB_KIND, { instance: instanceKey, id: HUB_ID }, op.name, encoded)
    return yield* Effect.mapError(
      Schema.decodeUnknown(op.success)(raw),
      (error) => new StorageFailure({ message: `undecodable answer from the transport hub (${op.name}): ${error.message}` }),
    )
  })
