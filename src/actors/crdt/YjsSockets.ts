/**
 * The y-websocket transport of a CRDT room: binary frames over hibernating WebSockets.
 *
 * On connect the server sends sync step 1 (its state vector) and the present awareness states;
 * the provider answers with what the server lacks and its own step 1, which gets step 2 back.
 * Each update is applied through the room (validated, persisted) and forwarded to the other
 * sockets as the bytes it arrived in, encoded once. Awareness is forwarded to every socket,
 * the sender included as the reference server does (a lone editor's provider counts it as
 * traffic), and is never stored.
 *
 * Inbound frames pay a rate budget (frames and bytes per second, per connection and per actor
 * across its connections, `RateBudget`) before they are decoded. A sync frame over budget closes
 * the socket at once with 4009 (dropping it would leave the provider believing the server has
 * an edit it never applied; its reconnect resyncs); an awareness or query frame over budget is
 * dropped (the provider renews its state) and 20 such drops within 10 s close with 4009.
 *
 * Awareness client ids follow the document's client id owners (`ClientOwners`): a newer state for
 * an id bound to another actor closes the socket (1008); an unbound one becomes this actor's.
 * States no newer than the server's are skipped: the stock provider relays every state it
 * receives, so they come back from every editor. A connection may announce at most
 * `maxAwarenessClients` ids of its own, each state at most `maxAwarenessBytes`; what others see of
 * a state is stamped with the connection's actor (`stampState`).
 *
 * A read-only grant may sync but its writes are dropped; awareness needs `presence`. A frame
 * that is not binary, too large, malformed, or carries a corrupt update closes the socket with
 * a close code saying why; nothing is stored.
 *
 * @since 0.1.0
 */
import { Clock, Effect } from "effect"
import * as syncProtocol from "y-protocols/sync"
import * as Y from "yjs"
import { CloseCode, LimitExceeded, toResponse, type RealtimeError } from "../../RealtimeError.js"
import { anonymousActor, type Actor } from "../../schema/Common.js"
import { YJS_SUBPROTOCOL } from "../../schema/Protocol.js"
import { readAttachment, writeAttachment, type SocketAttachment } from "../../sockets/Attachment.js"
import type { ConnectionsShape } from "../../sockets/Connections.js"
import { type ForwardedGrant } from "../../schema/LiveGrant.js"
import { decodeAwarenessUpdate, encodeAwarenessUpdate, stampState, type Awareness, type AwarenessState } from "./Awareness.js"
import { ownerKey, type ClientOwners } from "./ClientOwners.js"
import { describeRefusal, makeRateBudget, type RateLimits } from "../../services/RateBudget.js"
import { MAX_RATE_STRIKES, RATE_STRIKE_WINDOW_MS } from "../../sockets/Guards.js"
import { awarenessFrame, decodeFrame, MessageType, syncStep1Frame, syncStep2Frame, type YjsFrame } from "./YjsProtocol.js"

export interface YjsSocketsOptions {
  readonly ctx: DurableObjectState
  readonly connections: ConnectionsShape
  readonly awareness: Awareness
  readonly owners: ClientOwners
  /** Per connection: client ids it may announce, and bytes per state. */
  readonly awarenessLimits: { readonly maxClients: number; readonly maxStateBytes: number }
  /** Inbound rate budgets: per connection, and per actor across its connections in this document. */
  readonly rateLimits: { readonly connection: RateLimits; readonly actor: RateLimits }
  readonly doc: () => Y.Doc
  /** The whole document as one update (cached until it changes): the answer to an empty state vector. */
  readonly encodedState: () => Uint8Array
  readonly roomId: string
  readonly maxConnections: number
  readonly maxFrameBytes: number
  readonly destroyed: () => boolean
  /** Apply a validated-on-the-way update; `forward` is the frame to send others (the original bytes). */
  readonly applyUpdate: (update: Uint8Array, origin: string, actor: Actor, forward: Uint8Array | undefined) => Effect.Effect<unknown, RealtimeError>
  /**
   * `applyUpdate` synchronously, outside the Effect runtime: `undefined` when it cannot take the
   * update there (nothing was done), the error that refused it, or what to run in the mailbox after.
   */
  readonly applyUpdateNow: (
    update: Uint8Array,
    origin: string,
    actor: Actor,
    forward: Uint8Array | undefined,
    now: number,
  ) => { readonly error: RealtimeError } | { readonly then: Effect.Effect<void> | undefined } | undefined
  /** After awareness changed: arm the expiry job. */
  readonly awarenessChanged: (now: number) => Effect.Effect<void>
  readonly accepted: (grant: ForwardedGrant, now: number) => Effect.Effect<void>
  readonly closed: (now: number) => Effect.Effect<void>
}

const syncStep2 = syncProtocol.messageYjsSyncStep2
const syncUpdate = syncProtocol.messageYjsUpdate

const send = (socket: WebSocket, frame: Uint8Array) => {
  try {
    socket.send(frame)
  } catch {
    // closing
  }
}

const close = (socket: WebSocket, code: number, reason: string) => {
  try {
    socket.close(code, reason.slice(0, 120))
  } catch {
    // already closed
  }
}

const closeCodeFor = (error: RealtimeError): number => {
  switch (error._tag) {
    case "RoomDestroyed":
      return CloseCode.destroyed
    case "PayloadTooLarge":
      return CloseCode.tooBig
    case "InvalidInput":
      return CloseCode.policy
    default:
      return 1011
  }
}

export const makeYjsSockets = (options: YjsSocketsOptions) => {
  const { ctx, connections, awareness } = options

  // Awareness client ids each connection announced; lost on hibernation, which only forgets
  // ids whose states are gone with the memory that held them.
  const announcedIds = new Map<string, Set<number>>()
  const budget = makeRateBudget(options.rateLimits)
  // Dropped awareness frames per connection, forgiven after a quiet window (as on room sockets).
  const rateStrikes = new Map<string, { count: number; at: number }>()
  const rateStrike = (connectionId: string, now: number): number => {
    const last = rateStrikes.get(connectionId)
    const count = last === undefined || now - last.at > RATE_STRIKE_WINDOW_MS ? 1 : last.count + 1
    rateStrikes.set(connectionId, { count, at: now })
    return count
  }

  const announcedBy = (connectionId: string) => {
    let set = announcedIds.get(connectionId)
    if (set === undefined) announcedIds.set(connectionId, (set = new Set()))
    return set
  }

  const yjsSockets = () => connections.list().filter((entry) => entry.attachment?.protocol === "yjs")

  /** Send one encoded frame to every y-websocket connection except one; returns recipients. */
  const fanOut = (frame: Uint8Array, exceptConnection?: string | null): number => {
    let sent = 0
    for (const entry of yjsSockets()) {
      if (entry.id === exceptConnection) continue
      send(entry.socket, frame)
      sent++
    }
    return sent
  }

  /** Whether a y-websocket connection other than this one is open (someone a forward would reach). */
  const othersThan = (connectionId: string): boolean => {
    for (const entry of connections.list()) if (entry.id !== connectionId && entry.attachment?.protocol === "yjs") return true
    return false
  }

  const attachmentOf = readAttachment

  const isYjs = (socket: WebSocket) => attachmentOf(socket)?.protocol === "yjs"

  const accept = (grant: ForwardedGrant): Effect.Effect<Response> =>
    Effect.gen(function* () {
      const headers = { "Sec-WebSocket-Protocol": YJS_SUBPROTOCOL }
      const pair = new WebSocketPair()
      const [client, server] = [pair[0], pair[1]]
      if (options.destroyed()) {
        // Accept only to close with the code that tells the provider not to come back.
        server.accept()
        close(server, CloseCode.destroyed, `crdt room ${options.roomId} was destroyed`)
        return new Response(null, { status: 101, webSocket: client, headers })
      }
      if (connections.count() >= options.maxConnections) {
        return toResponse(new LimitExceeded({ limit: "connections", message: `this crdt room has reached maxConnections (${options.maxConnections})` }))
      }
      const attachment: SocketAttachment = {
        connectionId: crypto.randomUUID(),
        protocol: "yjs",
        actorId: grant.actor.id,
        actor: grant.actor,
        permissions: grant.permissions,
        expiresAt: grant.expiresAt,
      }
      ctx.acceptWebSocket(server, ["yjs"])
      writeAttachment(server, attachment)
      connections.invalidate()
      server.send(syncStep1Frame(Y.encodeStateVector(options.doc())))
      const present = awareness.present()
      if (present.length > 0) server.send(awarenessFrame(encodeAwarenessUpdate(present)))
      yield* options.accepted(grant, yield* Clock.currentTimeMillis)
      return new Response(null, { status: 101, webSocket: client, headers })
    })

  const handle = (socket: WebSocket, attachment: SocketAttachment, raw: Uint8Array, frame: YjsFrame): Effect.Effect<void> =>
    Effect.gen(function* () {
      const permissions = attachment.permissions ?? []
      const actor = attachment.actor ?? { type: "anonymous" as const, id: "anonymous" }
      switch (frame.kind) {
        case "syncStep1": {
          let missing: Uint8Array
          try {
            // A joiner's empty state vector (no clients: one zero byte) asks for the whole document.
            missing = frame.stateVector.length === 1 && frame.stateVector[0] === 0 ? options.encodedState() : Y.encodeStateAsUpdate(options.doc(), frame.stateVector)
          } catch {
            return close(socket, CloseCode.policy, "malformed state vector")
          }
          return send(socket, syncStep2Frame(missing))
        }
        case "syncStep2":
        case "update": {
          // Read-only: syncing is allowed, writing is not; the provider's empty step 2 lands here too.
          if (!permissions.includes("write")) return
          // Coalesced like the synchronous path (a frame lands here while the mailbox is busy).
          const now = yield* Clock.currentTimeMillis
          const coalesced = options.applyUpdateNow(frame.update, attachment.connectionId, actor, frame.kind === "update" ? raw : undefined, now)
          if (coalesced !== undefined) {
            if ("error" in coalesced) return close(socket, closeCodeFor(coalesced.error), coalesced.error.message)
            if (coalesced.then !== undefined) yield* coalesced.then
            return
          }
          const outcome = yield* Effect.either(options.applyUpdate(frame.update, attachment.connectionId, actor, frame.kind === "update" ? raw : undefined))
          if (outcome._tag === "Left") close(socket, closeCodeFor(outcome.left), outcome.left.message)
          return
        }
        case "awareness": {
          if (!permissions.includes("presence")) return
          let states
          try {
            // A stock provider relays every state it receives: the present ones may come back.
            states = decodeAwarenessUpdate(frame.update, { maxStates: options.awarenessLimits.maxClients + awareness.presentCount(), maxStateBytes: options.awarenessLimits.maxStateBytes })
          } catch (cause) {
            return close(socket, CloseCode.policy, `malformed awareness update: ${cause instanceof Error ? cause.message : String(cause)}`)
          }
          const owner = ownerKey(actor)
          const fresh: Array<AwarenessState> = []
          for (const state of states) {
            const known = awareness.known(state.clientId)
            const bound = options.owners.ownerOf(state.clientId)
            const mine = bound === undefined || bound === owner
            // The owner back after a close: its provider re-announces the clock the removal kept.
            const returning = mine && known !== undefined && known.state === null && state.state !== null && state.clock === known.clock
            // Not newer: a relay of what the server sent (y-websocket echoes every awareness
            // change it applies) or stale. It changes nothing and is nobody's claim.
            if (known !== undefined && state.clock <= known.clock && !returning) continue
            if (!mine) return close(socket, CloseCode.policy, `awareness client ${state.clientId} belongs to another actor`)
            fresh.push(returning ? { ...state, clock: known.clock + 1 } : state)
          }
          if (fresh.length === 0) return
          const announced = announcedBy(attachment.connectionId)
          const added = new Set(fresh.map((state) => state.clientId).filter((id) => !announced.has(id)))
          if (announced.size + added.size > options.awarenessLimits.maxClients) {
            return close(socket, CloseCode.policy, `a connection may announce at most ${options.awarenessLimits.maxClients} awareness client ids`)
          }
          const now = yield* Clock.currentTimeMillis
          // A live state claims its id for good; a removal binds nothing.
          const claimed = options.owners.unbound(fresh.filter((state) => state.state !== null).map((state) => state.clientId))
          const bound = yield* Effect.either(options.owners.bind(claimed, owner, now))
          if (bound._tag === "Left") return close(socket, 1011, "awareness client ids not stored")
          for (const id of added) announced.add(id)
          const stamped = fresh.map((state) => ({ ...state, state: stampState(state.state, actor) }))
          const changed = awareness.apply(stamped, attachment.connectionId, now)
          if (changed.length > 0) fanOut(awarenessFrame(encodeAwarenessUpdate(changed)))
          return yield* options.awarenessChanged(now)
        }
        case "queryAwareness":
          return send(socket, awarenessFrame(encodeAwarenessUpdate(awareness.present())))
        case "auth":
          return
      }
    })

  const message = (socket: WebSocket, data: string | ArrayBuffer): Effect.Effect<void> =>
    Effect.gen(function* () {
      const attachment = attachmentOf(socket)
      if (attachment === null) return close(socket, CloseCode.policy, "unknown connection")
      // Frames queued behind a close (a flood closed for its rate) are not processed.
      if (socket.readyState !== WebSocket.OPEN) return
      if (typeof data === "string") return close(socket, CloseCode.unsupported, "y-websocket frames are binary")
      if (data.byteLength > options.maxFrameBytes) return close(socket, CloseCode.tooBig, `frame over ${options.maxFrameBytes} bytes`)
      const now = yield* Clock.currentTimeMillis
      if (attachment.expiresAt !== undefined && attachment.expiresAt <= now) return close(socket, CloseCode.grantExpired, "grant expired")
      const raw = new Uint8Array(data)
      const refusal = budget.admit(attachment.connectionId, ownerKey(attachment.actor ?? anonymousActor), raw.byteLength, now)
      if (refusal !== undefined) {
        // The first byte is the message type (a one-byte varUint for every known type).
        if (raw[0] === MessageType.sync) return close(socket, CloseCode.rateLimited, describeRefusal(refusal))
        if (rateStrike(attachment.connectionId, now) >= MAX_RATE_STRIKES) close(socket, CloseCode.rateLimited, describeRefusal(refusal))
        return
      }
      let frame: YjsFrame
      try {
        frame = decodeFrame(raw)
      } catch (cause) {
        return close(socket, CloseCode.policy, `malformed y-websocket frame: ${String(cause)}`)
      }
      yield* handle(socket, attachment, raw, frame)
    }).pipe(Effect.catchAllCause((cause) => Effect.logError("y-websocket message failed", cause)))

  /**
   * The hot path of `message`, called synchronously when the actor's mailbox is idle (so it is
   * still one message at a time): a writer's update (or sync step 2) is admitted by the rate
   * budget, decoded, validated (structs, clocks, client-id owners), applied, stored in one row
   * and forwarded without entering the Effect runtime, which cost more than the update itself.
   * Every other frame, and an update this path cannot take, comes back as the Effect to run in
   * the mailbox, with every check it has not yet paid. `undefined`: handled, nothing left to run.
   * Time is `Date.now()`, what `Clock` reads in the Workers runtime.
   */
  const messageNow = (socket: WebSocket, data: string | ArrayBuffer): Effect.Effect<void> | undefined => {
    const attachment = attachmentOf(socket)
    if (attachment === null || socket.readyState !== WebSocket.OPEN || typeof data === "string" || data.byteLength > options.maxFrameBytes) return message(socket, data)
    const raw = new Uint8Array(data)
    // sync (0) update (2) or step 2 (1): each a one-byte varUint.
    const isWrite = raw[0] === MessageType.sync && (raw[1] === syncUpdate || raw[1] === syncStep2)
    if (!isWrite || !(attachment.permissions ?? []).includes("write")) return message(socket, data)
    const now = Date.now()
    if (attachment.expiresAt !== undefined && attachment.expiresAt <= now) return message(socket, data)
    try {
      const refusal = budget.admit(attachment.connectionId, ownerKey(attachment.actor ?? anonymousActor), raw.byteLength, now)
      if (refusal !== undefined) {
        close(socket, CloseCode.rateLimited, describeRefusal(refusal))
        return undefined
      }
      let frame: YjsFrame
      try {
        frame = decodeFrame(raw)
      } catch (cause) {
        close(socket, CloseCode.policy, `malformed y-websocket frame: ${String(cause)}`)
        return undefined
      }
      if (frame.kind !== "update" && frame.kind !== "syncStep2") return handle(socket, attachment, raw, frame)
      const actor = attachment.actor ?? anonymousActor
      const outcome = options.applyUpdateNow(frame.update, attachment.connectionId, actor, frame.kind === "update" ? raw : undefined, now)
      // Not for this path (a destroyed room, an update too large for one row): the full path.
      if (outcome === undefined) return handle(socket, attachment, raw, frame).pipe(Effect.catchAllCause((cause) => Effect.logError("y-websocket message failed", cause)))
      if ("error" in outcome) {
        close(socket, closeCodeFor(outcome.error), outcome.error.message)
        return undefined
      }
      return outcome.then
    } catch (cause) {
      return Effect.logError("y-websocket message failed", cause)
    }
  }

  const closed = (socket: WebSocket, code: number, reason: string): Effect.Effect<void> =>
    Effect.gen(function* () {
      const attachment = attachmentOf(socket)
      close(socket, code >= 1000 && code < 5000 && code !== 1005 && code !== 1006 ? code : CloseCode.normal, reason)
      connections.invalidate()
      if (attachment === null) return
      announcedIds.delete(attachment.connectionId)
      rateStrikes.delete(attachment.connectionId)
      budget.forget(attachment.connectionId)
      const removed = awareness.removeOwner(attachment.connectionId)
      if (removed.length > 0) fanOut(awarenessFrame(encodeAwarenessUpdate(removed)))
      yield* options.closed(yield* Clock.currentTimeMillis)
    }).pipe(Effect.catchAllCause((cause) => Effect.logError("y-websocket close failed", cause)))

  /** Close the y-websocket connections with these ids. */
  const closeConnections = (ids: ReadonlyArray<string>, code: number, reason: string) => {
    const wanted = new Set(ids)
    for (const entry of yjsSockets()) if (entry.id !== undefined && wanted.has(entry.id)) close(entry.socket, code, reason)
  }

  return { accept, message, messageNow, closed, closeConnections, isYjs, fanOut, othersThan }
}

export type YjsSockets = ReturnType<typeof makeYjsSockets>
