/**
 * The actor contract: what a Durable Object hosts.
 *
 * An actor is built once per object from Layers, handles one message at a time (the host wraps
 * every entry point in a one-permit semaphore, so a read-check-write never interleaves with another
 * message even across an `await`), and decodes every input itself.
 *
 * @since 0.1.0
 */
import { Context, type Effect, type Exit } from "effect"
import type { ResolvedConfig } from "../Config.js"
import type { RealtimeError } from "../RealtimeError.js"
import type { ActorAddress } from "../internal/ActorAddress.js"
import type { JobHandlers } from "../services/Jobs.js"
import type { Dispatch } from "../internal/Operations.js"
import type { Actor } from "../schema/Common.js"

export type ActorKind = "room" | "channel" | "crdtRoom" | "directory" | "dbShard" | "tableHub" | "transportHub"

/** The identity and configuration of the actor being run. */
export class ActorContext extends Context.Tag("durable-realtime/ActorContext")<
  ActorContext,
  {
    readonly kind: ActorKind
    readonly address: ActorAddress
    readonly config: ResolvedConfig
  }
>() {}

/**
 * The hosting Durable Object's state and env, for actors that accept sockets
 * (`ctx.acceptWebSocket`, `ctx.getWebSockets`) or call other objects.
 */
export class ObjectState extends Context.Tag("durable-realtime/ObjectState")<
  ObjectState,
  { readonly ctx: DurableObjectState; readonly env: Record<string, unknown> }
>() {}

/**
 * What the host calls for one operation: raw payload and caller in, the encoded success out.
 * Built from the kind's declared operations (`Operations.implement`, declarations in `Ops.ts`).
 */
export type Operation = Dispatch

/** What an actor gives its host. Transports (fetch, sockets) are optional capabilities. */
export interface ActorBehavior {
  /** The dispatcher: one entry per declared operation of the actor's kind. */
  readonly operations: Readonly<Record<string, Operation>>
  readonly jobs: JobHandlers
  /**
   * Synchronous fast paths for hot operations, by operation name, called instead of the
   * operation's entry in `operations` only when the mailbox is idle (nothing queued or running),
   * so operations stay one at a time. The answer is the operation's whole `Exit` (its success
   * already encoded), or `undefined` — having changed nothing — to take the mailbox path.
   */
  readonly invokeNow?: Readonly<Record<string, (input: unknown, caller: Actor | undefined) => Exit.Exit<unknown, RealtimeError> | undefined>>
  /** Runs after the actor is built and on every wake (re-arm alarms, rebuild caches). */
  readonly onWake?: Effect.Effect<void, RealtimeError>
  /** HTTP requests forwarded to the object (WebSocket upgrades, SSE). Runs in the mailbox. */
  readonly fetch?: (request: Request) => Effect.Effect<Response>
  /** Hibernation API events. Each runs in the mailbox, after a wake if the object hibernated. */
  readonly webSocketMessage?: (socket: WebSocket, message: string | ArrayBuffer) => Effect.Effect<void>
  /**
   * A synchronous fast path for hot frames, called instead of `webSocketMessage` only when the
   * mailbox is idle (nothing queued or running), so messages stay one at a time and in order.
   * Returns `undefined` when it handled the frame, or an Effect the host then runs in the mailbox
   * (the rest of the work, or the whole of it as `webSocketMessage` would).
   */
  readonly webSocketMessageNow?: (socket: WebSocket, message: string | ArrayBuffer) => Effect.Effect<void> | undefined
  readonly webSocketClose?: (socket: WebSocket, code: number, reason: string, wasClean: boolean) => Effect.Effect<void>
  readonly webSocketError?: (socket: WebSocket, error: unknown) => Effect.Effect<void>
}
