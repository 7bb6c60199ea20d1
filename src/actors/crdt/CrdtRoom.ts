/**
 * The CRDT room actor: a room (messages, members, presence, snapshots) that also holds a Yjs
 * document, spoken to over HTTP operations and the standard y-websocket protocol.
 *
 * Every update, from either side, takes one path: size check, validation and apply
 * (`YjsStore`), one row in the ordered update stream, then fan-out to the other y-websocket
 * connections. The log is folded into a base state by a durable job when it passes
 * `compactAfterUpdates` or `compactAfterBytes`.
 *
 * @since 0.1.0
 */
import { Clock, Effect, Schema } from "effect"
import * as Y from "yjs"
import { InvalidInput, PayloadTooLarge, Unauthorized } from "../../RealtimeError.js"
import type { Actor } from "../../schema/Common.js"
import type { ApplyYjsUpdateResult, AwarenessResult, SyncYjsResult } from "../../schema/Crdt.js"
import { Connections } from "../../services/Connections.js"
import { Jobs } from "../../services/Jobs.js"
import { Sql } from "../../services/Sql.js"
import { handler, implement, type Dispatcher } from "../../internal/Operations.js"
import { ActorContext, ObjectState, type ActorBehavior } from "../Actor.js"
import { CrdtOnlyOps, type CrdtRoomOps } from "../Ops.js"
import { GRANT_EXPIRY_JOB } from "../Live.js"
import { errorResponse, ForwardedGrant, LiveHeaders } from "../LiveGrant.js"
import { makeRoomWith, roomMigrations } from "../Room.js"
import { encodeAwarenessUpdate, makeAwareness, stampState } from "./Awareness.js"
import { clientOwnersMigration, makeClientOwners, ownerKey } from "./ClientOwners.js"
import { fromBase64, toBase64 } from "./Base64.js"
import { revertUpdate } from "./Revert.js"
import { awarenessFrame, updateFrame } from "./YjsProtocol.js"
import { makeYjsSockets } from "./YjsSockets.js"
import { makeYjsStore, yjsMigration } from "./YjsStore.js"

export const crdtRoomMigrations = [...roomMigrations, yjsMigration, clientOwnersMigration]

export const COMPACT_JOB = "yjs-compact"
export const AWARENESS_JOB = "awareness-expiry"

/** How long a client id that only ever announced awareness stays bound after its first use. */
export const UNWRITTEN_BINDING_MS = 24 * 60 * 60 * 1000

const SERVER_ACTOR: Actor = { type: "service", id: "server" }

export const makeCrdtRoom = Effect.gen(function* () {
  const sql = yield* Sql
  const jobs = yield* Jobs
  const connections = yield* Connections
  const { ctx } = yield* ObjectState
  const { address, config } = yield* ActorContext
  const owners = yield* makeClientOwners(sql)
  const store = yield* makeYjsStore(sql, { owners, maxClockJump: config.yjs.maxClockJump })
  // Nothing is present at a wake (awareness is memory-only): day-old awareness-only ids can go.
  yield* Effect.catchAll(
    owners.pruneUnwritten((yield* Clock.currentTimeMillis) - UNWRITTEN_BINDING_MS, (client) => Y.getState(store.doc().store, client) > 0),
    (error) => Effect.logWarning("awareness-only client ids not pruned", error),
  )
  const awareness = makeAwareness()
  let sockets: ReturnType<typeof makeYjsSockets> | undefined

  const { behavior: room, messaging } = yield* makeRoomWith({
    captureDocument: Effect.sync(() => Y.encodeStateAsUpdate(store.doc())),
    restoreDocument: (target) =>
      Effect.gen(function* () {
        const update = revertUpdate(store.doc(), target)
        const applied = yield* store.apply(update, "restore", SERVER_ACTOR, yield* Clock.currentTimeMillis)
        if (!applied.duplicate) sockets?.fanOut(updateFrame(update))
      }),
    hasContent: () => store.lastSeq() > 0,
    onDestroy: ({ deleteHistory }) =>
      Effect.gen(function* () {
        awareness.clear()
        if (deleteHistory) yield* store.clear
      }),
  })

  let lastPersistedTouch = 0
  /** Document activity keeps the room active; persisted at most once a second. */
  const touch = (now: number) =>
    Effect.gen(function* () {
      const persist = now - lastPersistedTouch >= 1000
      if (persist) lastPersistedTouch = now
      yield* messaging.lifecycle.touch(now, persist)
    })

  const applyUpdate = (update: Uint8Array, origin: string | null, actor: Actor, forward: Uint8Array | undefined) =>
    Effect.gen(function* () {
      yield* messaging.lifecycle.assertWritable
      if (update.byteLength > config.yjs.maxUpdateBytes) {
        return yield* new PayloadTooLarge({
          field: "updateBase64",
          size: update.byteLength,
          limit: config.yjs.maxUpdateBytes,
          message: `updateBase64: ${update.byteLength} bytes exceeds the limit of ${config.yjs.maxUpdateBytes} bytes`,
        })
      }
      const now = yield* Clock.currentTimeMillis
      const applied = yield* store.apply(update, origin, actor, now)
      if (!applied.duplicate) {
        sockets?.fanOut(forward ?? updateFrame(update), origin)
        yield* touch(now)
        // A room with a document counts in stats(), even with no message or member.
        yield* messaging.reportIfChanged
        const log = store.log()
        if (log.count >= config.yjs.compactAfterUpdates || log.bytes >= config.yjs.compactAfterBytes) yield* jobs.ensure(COMPACT_JOB, now)
      }
      return applied
    })

  const awarenessChanged = (now: number) =>
    Effect.gen(function* () {
      const next = awareness.nextExpiry()
      if (next !== null) yield* jobs.ensure(AWARENESS_JOB, next)
      yield* touch(now)
    }).pipe(Effect.catchAll((error) => Effect.logWarning("awareness expiry not scheduled", error)))

  const yjsFrameBytes = Math.max(config.maxFrameBytes, config.yjs.maxUpdateBytes + 64)
  sockets = makeYjsSockets({
    ctx,
    connections,
    awareness,
    owners,
    awarenessLimits: { maxClients: config.yjs.maxAwarenessClients, maxStateBytes: config.yjs.maxAwarenessBytes },
    // The instance's socket budgets; the byte bursts never below one largest Yjs frame.
    rateLimits: {
      connection: { ...config.rateLimit, bytesBurst: Math.max(config.rateLimit.bytesBurst, yjsFrameBytes) },
      actor: { ...config.actorRateLimit, bytesBurst: Math.max(config.actorRateLimit.bytesBurst, yjsFrameBytes) },
    },
    doc: store.doc,
    roomId: address.id,
    maxConnections: config.maxConnections,
    maxFrameBytes: yjsFrameBytes,
    destroyed: () => messaging.lifecycle.status().status === "destroyed",
    applyUpdate,
    awarenessChanged,
    accepted: (grant, now) =>
      Effect.all([jobs.ensure(GRANT_EXPIRY_JOB, grant.expiresAt), touch(now), messaging.scheduleReport(now)]).pipe(
        Effect.catchAll((error) => Effect.logWarning("y-websocket accept bookkeeping failed", error)),
      ),
    closed: (now) => Effect.catchAll(messaging.scheduleReport(now), (error) => Effect.logWarning("report not scheduled", error)),
  })
  const yjs = sockets

  const stateVector = () => toBase64(Y.encodeStateVector(store.doc()))

  const applyYjsUpdate = handler(CrdtOnlyOps.applyYjsUpdate, (input, caller) =>
    Effect.map(
      applyUpdate(fromBase64(input.updateBase64), input.clientId === undefined ? null : String(input.clientId), messaging.actorOf(input.actor, caller), undefined),
      (applied): ApplyYjsUpdateResult => ({ stateVectorBase64: stateVector(), seq: applied.seq, duplicate: applied.duplicate }),
    ),
  )

  const syncYjs = handler(CrdtOnlyOps.syncYjs, (input) =>
    Effect.gen(function* () {
      let update: Uint8Array
      try {
        update = Y.encodeStateAsUpdate(store.doc(), input.stateVectorBase64 === undefined ? undefined : fromBase64(input.stateVectorBase64))
      } catch {
        return yield* new InvalidInput({ field: "stateVectorBase64", message: "stateVectorBase64: not a Yjs state vector" })
      }
      return { updateBase64: toBase64(update), stateVectorBase64: stateVector(), seq: store.lastSeq() } satisfies SyncYjsResult
    }),
  )

  const presentStates = (): AwarenessResult => ({ states: awareness.present() })

  /** HTTP awareness follows the socket rules: the id's owner only, bound on first use, stamped. */
  const setAwareness = handler(CrdtOnlyOps.setAwareness, (input, caller) =>
    Effect.gen(function* () {
      yield* messaging.lifecycle.assertWritable
      const actor = messaging.actorOf(input.actor, caller)
      const owner = ownerKey(actor)
      if (owners.foreign([input.clientId], owner) !== undefined) {
        return yield* new InvalidInput({ field: "clientId", message: `clientId: awareness client ${input.clientId} belongs to another actor` })
      }
      const now = yield* Clock.currentTimeMillis
      if (input.state !== null) yield* owners.bind(owners.unbound([input.clientId]), owner, now)
      const state = { clientId: input.clientId, clock: awareness.clock(input.clientId) + 1, state: stampState(input.state, actor) }
      if (awareness.apply([state], null, now).length > 0) yjs.fanOut(awarenessFrame(encodeAwarenessUpdate([state])))
      yield* awarenessChanged(now)
      return presentStates()
    }),
  )

  const getAwareness = handler(CrdtOnlyOps.getAwareness, () => Effect.sync(presentStates))

  const stream = handler(CrdtOnlyOps.stream, (query) => store.stream(query.cursor, query.limit))

  const compact = handler(CrdtOnlyOps.compact, () => store.compact)

  const documentStats = handler(CrdtOnlyOps.documentStats, () =>
    Effect.gen(function* () {
      const doc = store.doc()
      return {
        stateVectorBase64: stateVector(),
        lastSeq: store.lastSeq(),
        compactedThrough: store.compactedThrough(),
        logUpdates: store.log().count,
        storedBytes: yield* store.storedBytes,
        encodedBytes: Y.encodeStateAsUpdate(doc).byteLength,
        awarenessClients: awareness.present().length,
        ...store.written(),
      }
    }),
  )

  const compactJob = Effect.map(store.compact, () => null)

  const awarenessJob = Effect.gen(function* () {
    const removed = awareness.expire(yield* Clock.currentTimeMillis)
    if (removed.length > 0) yjs.fanOut(awarenessFrame(encodeAwarenessUpdate(removed)))
    return awareness.nextExpiry()
  })

  const fetch = (request: Request): Effect.Effect<Response> =>
    Effect.gen(function* () {
      if (request.headers.get(LiveHeaders.transport) !== "yjs") return yield* room.fetch(request)
      const grant = Schema.decodeUnknownEither(Schema.parseJson(ForwardedGrant))(request.headers.get(LiveHeaders.grant) ?? "")
      if (grant._tag === "Left") return errorResponse(new Unauthorized({ reason: "missing", message: "no verified grant" }))
      if (grant.right.expiresAt <= (yield* Clock.currentTimeMillis)) return errorResponse(new Unauthorized({ reason: "expired", message: "grant expired" }))
      return yield* yjs.accept(grant.right)
    })

  return {
    operations: { ...room.operations, ...implement(CrdtOnlyOps, { applyYjsUpdate, syncYjs, setAwareness, getAwareness, stream, compact, documentStats }) } satisfies Dispatcher<typeof CrdtRoomOps>,
    jobs: { ...room.jobs, [COMPACT_JOB]: compactJob, [AWARENESS_JOB]: awarenessJob },
    fetch,
    webSocketMessage: (socket, message) => (yjs.isYjs(socket) ? yjs.message(socket, message) : room.webSocketMessage(socket, message)),
    webSocketClose: (socket, code, reason) => (yjs.isYjs(socket) ? yjs.closed(socket, code, reason) : room.webSocketClose(socket, code, reason)),
    webSocketError: (socket) => (yjs.isYjs(socket) ? yjs.closed(socket, 1011, "error") : room.webSocketError(socket)),
  } satisfies ActorBehavior
})
