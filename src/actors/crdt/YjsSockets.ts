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
 * The sockets are the object's socket layer's (src/sockets/Sockets.ts): this module is the
 * y-websocket `SocketProtocol` plugged into it, and accept's first frames. Inbound frames pay a
 * rate budget (frames and bytes per second, per connection and per actor across its connections,
 * `RateBudget`) before they are decoded. A sync frame over budget closes the socket at once with
 * 4009 (dropping it would leave the provider believing the server has an edit it never applied;
 * its reconnect resyncs); an awareness or query frame over budget is dropped (the provider renews
 * its state) and 20 such drops within 10 s close with 4009.
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
import * as Y from "yjs"
import { type RealtimeError, toResponse } from "../../RealtimeError.js"
import { anonymousActor, type Actor } from "../../schema/Common.js"
import type { ForwardedGrant } from "../../schema/LiveGrant.js"
import { YJS_SUBPROTOCOL } from "../../schema/Protocol.js"
import { grantAttachment, type SocketAttachment } from "../../sockets/Attachment.js"
import { Close, closeSocket, closingFor, sendFrame } from "../../sockets/CloseCodes.js"
import type { SocketProtocol } from "../../sockets/Protocol.js"
import { invalidFrame, type SocketsShape } from "../../sockets/Sockets.js"
import { makeRateBudget, type RateLimits } from "../../services/RateBudget.js"
import { decodeAwarenessUpdate, encodeAwarenessUpdate, stampState, type Awareness, type AwarenessState } from "./Awareness.js"
import { ownerKey, type ClientOwners } from "./ClientOwners.js"
import { awarenessFrame, decodeFrame, MessageType, syncStep1Frame, syncStep2Frame, type YjsFrame } from "./YjsProtocol.js"

/** The protocol name written into a y-websocket socket's attachment. */
export const YJS_PROTOCOL = "yjs"

export interface YjsSocketsOptions {
  /** The object's socket layer. */
  readonly sockets: SocketsShape
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

/** A decoded y-websocket frame and the bytes it arrived in (forwarded as they are). */
interface Inbound {
  readonly raw: Uint8Array
  readonly frame: YjsFrame
}

export const makeYjsSockets = (options: YjsSocketsOptions) => {
  const { sockets, awareness } = options

  // Awareness client ids each connection announced; lost on hibernation, which only forgets
  // ids whose states are gone with the memory that held them.
  const announcedIds = new Map<string, Set<number>>()

  const announcedBy = (connectionId: string) => {
    let set = announcedIds.get(connectionId)
    if (set === undefined) announcedIds.set(connectionId, (set = new Set()))
    return set
  }

  /** Send one encoded frame to every y-websocket connection except one; returns recipients. */
  const fanOut = (frame: Uint8Array, exceptConnection?: string | null): number => sockets.fanOut(YJS_PROTOCOL, frame, exceptConnection)

  /** Whether a y-websocket connection other than this one is open (someone a forward would reach). */
  const othersThan = (connectionId: string): boolean => sockets.anyOpen(YJS_PROTOCOL, connectionId)

  const accept = (grant: ForwardedGrant): Effect.Effect<Response> =>
    Effect.gen(function* () {
      // Accept only to close with the code that tells the provider not to come back.
      if (options.destroyed()) return sockets.acceptToClose({ subprotocol: YJS_SUBPROTOCOL, frames: [], closing: Close.destroyed, detail: `crdt room ${options.roomId} was destroyed` })
      const room = yield* Effect.either(sockets.roomFor("crdt room", options.maxConnections))
      if (room._tag === "Left") return toResponse(room.left)
      const { server, response } = yield* sockets.accept({ protocol: YJS_PROTOCOL, attachment: grantAttachment(grant), tags: ["yjs"], subprotocol: YJS_SUBPROTOCOL })
      server.send(syncStep1Frame(Y.encodeStateVector(options.doc())))
      const present = awareness.present()
      if (present.length > 0) server.send(awarenessFrame(encodeAwarenessUpdate(present)))
      yield* options.accepted(grant, yield* Clock.currentTimeMillis)
      return response
    })

  const handle = (socket: WebSocket, attachment: SocketAttachment, raw: Uint8Array, frame: YjsFrame): Effect.Effect<void> =>
    Effect.gen(function* () {
      const permissions = attachment.permissions ?? []
      const actor = attachment.actor ?? { type: "anonymous" as const, id: "anonymous" }
      switch (frame.kind) {
        case "syncStep1":
          return answerSyncStep1(socket, frame.stateVector)
        case "syncStep2":
        case "update": {
          // Read-only: syncing is allowed, writing is not.
          if (!permissions.includes("write")) return
          // Coalesced like the synchronous path (a frame lands here while the mailbox is busy).
          const now = yield* Clock.currentTimeMillis
          const coalesced = options.applyUpdateNow(frame.update, attachment.connectionId, actor, frame.kind === "update" ? raw : undefined, now)
          if (coalesced !== undefined) {
            if ("error" in coalesced) return closeSocket(socket, closingFor(coalesced.error), coalesced.error.message)
            if (coalesced.then !== undefined) yield* coalesced.then
            return
          }
          const outcome = yield* Effect.either(options.applyUpdate(frame.update, attachment.connectionId, actor, frame.kind === "update" ? raw : undefined))
          if (outcome._tag === "Left") closeSocket(socket, closingFor(outcome.left), outcome.left.message)
          return
        }
        case "awareness": {
          if (!permissions.includes("presence")) return
          let states
          try {
            // A stock provider relays every state it receives: the present ones may come back.
            states = decodeAwarenessUpdate(frame.update, { maxStates: options.awarenessLimits.maxClients + awareness.presentCount(), maxStateBytes: options.awarenessLimits.maxStateBytes })
          } catch (cause) {
            return closeSocket(socket, Close.policy, `malformed awareness update: ${cause instanceof Error ? cause.message : String(cause)}`)
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
            if (!mine) return closeSocket(socket, Close.policy, `awareness client ${state.clientId} belongs to another actor`)
            fresh.push(returning ? { ...state, clock: known.clock + 1 } : state)
          }
          if (fresh.length === 0) return
          const announced = announcedBy(attachment.connectionId)
          const added = new Set(fresh.map((state) => state.clientId).filter((id) => !announced.has(id)))
          if (announced.size + added.size > options.awarenessLimits.maxClients) {
            return closeSocket(socket, Close.policy, `a connection may announce at most ${options.awarenessLimits.maxClients} awareness client ids`)
          }
          const now = yield* Clock.currentTimeMillis
          // A live state claims its id for good; a removal binds nothing.
          const claimed = options.owners.unbound(fresh.filter((state) => state.state !== null).map((state) => state.clientId))
          const bound = yield* Effect.either(options.owners.bind(claimed, owner, now))
          if (bound._tag === "Left") return closeSocket(socket, Close.internal, "awareness client ids not stored")
          for (const id of added) announced.add(id)
          const stamped = fresh.map((state) => ({ ...state, state: stampState(state.state, actor) }))
          const changed = awareness.apply(stamped, attachment.connectionId, now)
          if (changed.length > 0) fanOut(awarenessFrame(encodeAwarenessUpdate(changed)))
          return yield* options.awarenessChanged(now)
        }
        case "queryAwareness":
          return answerQueryAwareness(socket)
        case "auth":
          return
      }
    })

  /**
   * The step 2 frame holding the whole document, kept while `encodedState` gives the same bytes
   * (it caches them until the document changes): every joiner of a large document then costs one
   * send, not a copy of the document into a new frame.
   */
  let wholeDocument: { readonly state: Uint8Array; readonly frame: Uint8Array } | undefined
  const wholeDocumentFrame = (): Uint8Array => {
    const state = options.encodedState()
    if (wholeDocument?.state !== state) wholeDocument = { state, frame: syncStep2Frame(state) }
    return wholeDocument.frame
  }

  /** Sync step 2 for a client's step 1: what its state vector lacks, or the whole document for an empty one. */
  const answerSyncStep1 = (socket: WebSocket, stateVector: Uint8Array): void => {
    // A joiner's empty state vector (no clients: one zero byte) asks for the whole document.
    if (stateVector.length === 1 && stateVector[0] === 0) return void sendFrame(socket, wholeDocumentFrame())
    let missing: Uint8Array
    try {
      missing = Y.encodeStateAsUpdate(options.doc(), stateVector)
    } catch {
      return closeSocket(socket, Close.policy, "malformed state vector")
    }
    sendFrame(socket, syncStep2Frame(missing))
  }

  const answerQueryAwareness = (socket: WebSocket): void => void sendFrame(socket, awarenessFrame(encodeAwarenessUpdate(awareness.present())))

  /**
   * A frame that only reads (or is dropped), answered synchronously: `true` when it was. The
   * answers read the document and awareness as they are (the room stores pending updates before
   * it hands such a frame here), so a join costs no Effect run and no mailbox turn.
   */
  const answeredNow = (socket: WebSocket, attachment: SocketAttachment, frame: YjsFrame): boolean => {
    switch (frame.kind) {
      case "syncStep1":
        answerSyncStep1(socket, frame.stateVector)
        return true
      case "queryAwareness":
        answerQueryAwareness(socket)
        return true
      case "auth":
        return true
      case "syncStep2":
      case "update":
        // Read-only: syncing is allowed, writing is not; the provider's empty step 2 lands here too.
        return !(attachment.permissions ?? []).includes("write")
      case "awareness":
        return false
    }
  }

  /**
   * The hot path, called synchronously when the actor's mailbox is idle (so it is still one
   * message at a time): a writer's update (or sync step 2), admitted by the socket layer, is
   * validated (structs, clocks, client-id owners), applied, stored and forwarded without entering
   * the Effect runtime, which cost more than the update itself. Frames that only read are answered
   * here too (`answeredNow`); awareness, and an update this path cannot take, come back as their
   * handler for the mailbox.
   */
  const handleNow = (socket: WebSocket, attachment: SocketAttachment, { raw, frame }: Inbound, now: number): Effect.Effect<void> | undefined => {
    if (answeredNow(socket, attachment, frame)) return undefined
    if (frame.kind !== "update" && frame.kind !== "syncStep2") return handle(socket, attachment, raw, frame)
    const outcome = options.applyUpdateNow(frame.update, attachment.connectionId, attachment.actor ?? anonymousActor, frame.kind === "update" ? raw : undefined, now)
    // Not for this path (a destroyed room, an update too large for one row): the full path.
    if (outcome === undefined) return handle(socket, attachment, raw, frame)
    if ("error" in outcome) return void closeSocket(socket, closingFor(outcome.error), outcome.error.message)
    return outcome.then
  }

  const closed = (_socket: WebSocket, attachment: SocketAttachment): Effect.Effect<void> =>
    Effect.suspend(() => {
      announcedIds.delete(attachment.connectionId)
      const removed = awareness.removeOwner(attachment.connectionId)
      if (removed.length > 0) fanOut(awarenessFrame(encodeAwarenessUpdate(removed)))
      return Effect.flatMap(Clock.currentTimeMillis, options.closed)
    })

  const protocol: SocketProtocol<Inbound> = {
    name: YJS_PROTOCOL,
    maxFrameBytes: options.maxFrameBytes,
    budget: makeRateBudget(options.rateLimits),
    // Every refusal of this protocol closes the socket (there is no error frame to send).
    maxStrikes: 1,
    // The first byte is the message type (a one-byte varUint for every known type).
    overBudget: (message) => (typeof message !== "string" && new Uint8Array(message, 0, Math.min(1, message.byteLength))[0] === MessageType.sync ? "close" : "strike"),
    // Frames queued behind a close (a flood closed for its rate) are not processed.
    dropWhenClosing: true,
    decode: (message) => {
      if (typeof message === "string") return invalidFrame("y-websocket frames are binary", { close: Close.unsupported })
      const raw = new Uint8Array(message)
      try {
        return { raw, frame: decodeFrame(raw) }
      } catch (cause) {
        return invalidFrame(`malformed y-websocket frame: ${String(cause)}`, { close: Close.policy })
      }
    },
    handle: (socket, attachment, { raw, frame }) => handle(socket, attachment, raw, frame),
    handleNow,
    closed,
  }
  sockets.register(protocol)

  return { accept, fanOut, othersThan }
}

export type YjsSockets = ReturnType<typeof makeYjsSockets>
