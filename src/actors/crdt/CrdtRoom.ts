/**
 * The CRDT room actor: a room (messages, members, presence, snapshots) that also holds a Yjs
 * document, spoken to over HTTP operations and the standard y-websocket protocol.
 *
 * Every update, from either side, takes one path: size check, validation and apply
 * (`YjsStore`), one row in the ordered update stream, then fan-out to the other y-websocket
 * connections. The log is folded into the base state by a durable job once it has brought 1.5×
 * the base's bytes (and at least `compactAfterUpdates` updates), or `compactAfterBytes`
 * (`YjsStore.compactionDue`); by the update path itself if that job is overdue.
 * y-websocket update frames take a synchronous path (`applyUpdateNow`) when the mailbox is idle.
 *
 * @since 0.1.0
 */
import { Clock, Effect, Schema } from "effect"
import * as Y from "yjs"
import { InvalidInput, PayloadTooLarge, Unauthorized, toResponse } from "../../RealtimeError.js"
import type { Actor } from "../../schema/Common.js"
import type { ApplyYjsUpdateResult, AwarenessResult, SyncYjsResult } from "../../schema/Crdt.js"
import { Jobs, type JobHandler } from "../../services/Jobs.js"
import { handler, implement, type Dispatcher } from "../../internal/Operations.js"
import { ActorContext, type ActorBehavior, type Operation } from "../Actor.js"
import { CrdtOnlyOps, type CrdtRoomOps } from "../Ops.js"
import { Close } from "../../sockets/CloseCodes.js"
import { Sockets } from "../../sockets/Sockets.js"
import { ForwardedGrant, LiveHeaders } from "../../schema/LiveGrant.js"
import { makeRoomWith, roomMigrations } from "../room/Room.js"
import { encodeAwarenessUpdate, makeAwareness, stampState } from "./Awareness.js"
import { makeClientOwners, ownerKey } from "./ClientOwners.js"
import { fromBase64, toBase64 } from "./Base64.js"
import { revertUpdate } from "./Revert.js"
import { awarenessFrame, isWriteFrame, updateFrame } from "./YjsProtocol.js"
import { makeYjsSockets, YJS_PROTOCOL } from "./YjsSockets.js"
import { makeYjsStore } from "./YjsStore.js"
import { clientOwnersMigration, yjsMigration } from "../../storage/YjsDocumentStore.js"
import { CHUNK_BYTES } from "../../storage/Blobs.js"

export const crdtRoomMigrations = [...roomMigrations, yjsMigration, clientOwnersMigration]

export const COMPACT_JOB = "yjs-compact"
export const AWARENESS_JOB = "awareness-expiry"

/** How long a client id that only ever announced awareness stays bound after its first use. */
export const UNWRITTEN_BINDING_MS = 24 * 60 * 60 * 1000

const SERVER_ACTOR: Actor = { type: "service", id: "server" }

/**
 * Least time between two stores of coalesced y-websocket updates (see `flushPending`): the
 * instance's `yjs.storeIntervalMs` (default 8 ms), and `yjs.loneStoreIntervalMs` (default 100 ms)
 * while no other y-websocket connection could receive the writer's updates: a store is
 * a commit (a storage write; in local workerd an fsync of ~2 ms on the 2-core bench machine), and
 * with nobody to forward to, waiting longer only groups more updates per commit (the first 20,000
 * automerge-paper edits: ~5-25 rows instead of 100-250). Whatever would reveal them (a joiner, a
 * reader, any operation) stores them first; lost with the object before that, they were seen and
 * acknowledged by no one, and the writer's provider resends them when it reconnects.
 */
/**
 * Most bytes of y-websocket updates held in memory before their store, whatever the interval:
 * the pending queue is bounded in bytes, not only by the senders' rate budgets times their count.
 */
export const MAX_PENDING_BYTES = CHUNK_BYTES

/** How long a due compaction job may wait for its alarm before the update path folds the log itself. */
export const COMPACT_OVERDUE_MS = 2000

// Built once: a `parseJson` schema made per request is a new AST, whose parser is compiled again for every join.
const decodeForwardedGrant = Schema.decodeUnknownEither(Schema.parseJson(ForwardedGrant))

export const makeCrdtRoom = Effect.gen(function* () {
  const jobs = yield* Jobs
  const socketLayer = yield* Sockets
  const { address, config } = yield* ActorContext
  const owners = yield* makeClientOwners
  const store = yield* makeYjsStore({ owners, maxClockJump: config.yjs.maxClockJump })
  // Nothing is present at a wake (awareness is memory-only): day-old awareness-only ids can go.
  yield* Effect.catchAll(
    owners.pruneUnwritten((yield* Clock.currentTimeMillis) - UNWRITTEN_BINDING_MS, (client) => Y.getState(store.doc().store, client) > 0),
    (error) => Effect.logWarning("awareness-only client ids not pruned", error),
  )
  const awareness = makeAwareness()
  let sockets: ReturnType<typeof makeYjsSockets> | undefined

  const { behavior: room, messaging } = yield* makeRoomWith({
    captureDocument: Effect.sync(() => store.encodedState()),
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

  const tooLarge = (size: number) =>
    new PayloadTooLarge({
      field: "updateBase64",
      size,
      limit: config.yjs.maxUpdateBytes,
      message: `updateBase64: ${size} bytes exceeds the limit of ${config.yjs.maxUpdateBytes} bytes`,
    })

  /**
   * When the log is due for a fold (`compactionDue`): "schedule" the durable job the first time
   * it is noticed, "now" when that job is overdue by `COMPACT_OVERDUE_MS` (under a continuous
   * update stream the alarm waited until the stream paused, and the log grew without bound).
   */
  let compactDueSince: number | undefined
  const compaction = (now: number): "no" | "schedule" | "now" => {
    if (!store.compactionDue(config.yjs.compactAfterUpdates, config.yjs.compactAfterBytes)) {
      compactDueSince = undefined
      return "no"
    }
    if (compactDueSince === undefined) return "schedule"
    return now - compactDueSince >= COMPACT_OVERDUE_MS ? "now" : "no"
  }

  /** What follows a stored update, off its hot path: activity, the directory report, compaction. */
  let lastBookkeeping = 0
  const bookkeeping = (now: number) =>
    Effect.gen(function* () {
      lastBookkeeping = now
      yield* touch(now)
      // A room with a document counts in stats(), even with no message or member.
      yield* messaging.reportIfChanged
      switch (compaction(now)) {
        case "schedule":
          compactDueSince = now
          return yield* jobs.ensure(COMPACT_JOB, now)
        case "now": {
          compactDueSince = undefined
          const folded = yield* Effect.either(store.compact)
          if (folded._tag === "Left") yield* jobs.ensure(COMPACT_JOB, now)
          return
        }
      }
    })
  /** Whether an update applied at `now` needs `bookkeeping` (else at most about once a second). */
  const bookkeepingDue = (now: number) => now - lastBookkeeping >= 1000 || messaging.lifecycle.status().status !== "active" || compaction(now) !== "no"

  // Pending (coalesced) updates are older: stored first, so rows keep arrival order.
  const applyUpdate = (update: Uint8Array, origin: string | null, actor: Actor, forward: Uint8Array | undefined) =>
    Effect.gen(function* () {
      if (store.hasPending()) flushPending()
      yield* messaging.lifecycle.assertWritable
      if (update.byteLength > config.yjs.maxUpdateBytes) return yield* tooLarge(update.byteLength)
      const now = yield* Clock.currentTimeMillis
      const applied = yield* store.apply(update, origin, actor, now)
      if (!applied.duplicate) {
        sockets?.fanOut(forward ?? updateFrame(update), origin)
        yield* bookkeeping(now)
      }
      return applied
    })

  /**
   * Coalescing: a y-websocket update is checked at once (against the document and the updates
   * ahead of it, `PendingUpdates`) and applied and stored right away when the last store was at
   * least `yjs.storeIntervalMs` ago (`yjs.loneStoreIntervalMs` while its writer is the only
   * y-websocket connection); updates arriving sooner are applied and stored together when that
   * interval has passed, one Yjs transaction and one row per run of one connection's updates, all
   * rows in one storage transaction (one commit instead of one per frame, which was most of the
   * cost of a stream). Nothing is forwarded before its row is stored (and the runtime's output
   * gate holds the frames until the write is durable), the document only ever holds stored
   * updates, and every other entry point (each mailbox message, operation, job) stores what is
   * pending first: nothing an unstored update caused is visible to anyone, and an update lost
   * with the object before its store was never visible nor acknowledged (its provider resends it
   * on reconnect, as for any frame in flight).
   */
  let lastFlushAt = 0
  let flushTimer: ReturnType<typeof setTimeout> | undefined
  const flushPending = (): void => {
    if (flushTimer !== undefined) clearTimeout(flushTimer)
    flushTimer = undefined
    lastFlushAt = Date.now()
    const flushed = store.flushPending()
    // An update only applying could refuse: its connection is closed as it would have been at once.
    for (const { origin, error } of flushed.refused) socketLayer.closeConnections([origin], Close.policy, error.message)
    if (flushed.failure !== undefined) {
      // The writers' providers believe the server has their edits: make them reconnect and resync.
      socketLayer.closeConnections(flushed.failure.dropped, Close.internal, "updates not stored; reconnect to resync")
      Effect.runFork(Effect.logError("pending y-websocket updates not stored", flushed.failure.error))
      return
    }
    for (const run of flushed.stored) sockets?.fanOut(run.forward ?? updateFrame(run.update), run.origin)
  }
  /**
   * Store now if the last store is old enough, else once it is. The check runs on every update
   * (the clock advances with each frame): under a saturating stream a timer may wait until the
   * stream pauses; the timer stores the tail of a burst.
   */
  const scheduleFlush = (now: number, origin: string) => {
    const interval = sockets?.othersThan(origin) ? config.yjs.storeIntervalMs : config.yjs.loneStoreIntervalMs
    if (now - lastFlushAt >= interval || store.pendingBytes() >= MAX_PENDING_BYTES) return flushPending()
    // A viewer joining while a lone writer's timer runs is served by `afterPending` at once.
    if (flushTimer === undefined) flushTimer = setTimeout(flushPending, lastFlushAt + interval - now)
  }
  /** Run `effect` after storing (and forwarding) whatever updates are pending. */
  const afterPending = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.zipRight(
      Effect.sync(() => {
        if (store.hasPending()) flushPending()
      }),
      effect,
    )

  /**
   * The y-websocket update path without the Effect runtime (see `YjsSockets.messageNow`): the
   * same checks and validation as `applyUpdate`, synchronously, with the store coalesced (above).
   * It answers `undefined` when it cannot take the update here (destroyed room, too large for
   * one row): the caller then runs `applyUpdate` in the mailbox. Bookkeeping comes back as an
   * Effect for the mailbox when due.
   */
  const applyUpdateNow = (update: Uint8Array, origin: string, actor: Actor, forward: Uint8Array | undefined, now: number) => {
    if (messaging.lifecycle.status().status === "destroyed" || update.byteLength > config.yjs.maxUpdateBytes || !store.fitsOneRow(update.byteLength)) return undefined
    const applied = store.applyPending(update, origin, actor, forward, now)
    if ("_tag" in applied) return { error: applied }
    if (!applied.pending) return { then: undefined }
    scheduleFlush(now, origin)
    // Bookkeeping may fold the log: pending updates are stored first.
    return { then: bookkeepingDue(now) ? afterPending(Effect.catchAll(bookkeeping(now), (error) => Effect.logWarning("crdt bookkeeping failed", error))) : undefined }
  }

  const awarenessChanged = (now: number) =>
    Effect.gen(function* () {
      const next = awareness.nextExpiry()
      if (next !== null) yield* jobs.ensure(AWARENESS_JOB, next)
      yield* touch(now)
    }).pipe(Effect.catchAll((error) => Effect.logWarning("awareness expiry not scheduled", error)))

  const yjsFrameBytes = Math.max(config.maxFrameBytes, config.yjs.maxUpdateBytes + 64)
  sockets = makeYjsSockets({
    sockets: socketLayer,
    awareness,
    owners,
    awarenessLimits: { maxClients: config.yjs.maxAwarenessClients, maxStateBytes: config.yjs.maxAwarenessBytes },
    // The instance's socket budgets; the byte bursts never below one largest Yjs frame.
    rateLimits: {
      connection: { ...config.rateLimit, bytesBurst: Math.max(config.rateLimit.bytesBurst, yjsFrameBytes) },
      actor: { ...config.actorRateLimit, bytesBurst: Math.max(config.actorRateLimit.bytesBurst, yjsFrameBytes) },
    },
    doc: store.doc,
    encodedState: store.encodedState,
    roomId: address.id,
    maxConnections: config.maxConnections,
    maxFrameBytes: yjsFrameBytes,
    destroyed: () => messaging.lifecycle.status().status === "destroyed",
    applyUpdate,
    applyUpdateNow,
    awarenessChanged,
    accepted: (grant, now) =>
      Effect.all([touch(now), messaging.scheduleReport(now)]).pipe(
        Effect.catchAll((error) => Effect.logWarning("y-websocket accept bookkeeping failed", error)),
      ),
    closed: (now) => Effect.catchAll(messaging.scheduleReport(now), (error) => Effect.logWarning("report not scheduled", error)),
  })
  const yjs = sockets
  const isYjs = (socket: WebSocket) => socketLayer.protocolOf(socket) === YJS_PROTOCOL

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
        update = input.stateVectorBase64 === undefined ? store.encodedState() : Y.encodeStateAsUpdate(store.doc(), fromBase64(input.stateVectorBase64))
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
      return {
        stateVectorBase64: stateVector(),
        lastSeq: store.lastSeq(),
        compactedThrough: store.compactedThrough(),
        logUpdates: store.log().count,
        storedBytes: yield* store.storedBytes,
        encodedBytes: store.encodedState().byteLength,
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
      const grant = decodeForwardedGrant(request.headers.get(LiveHeaders.grant) ?? "")
      if (grant._tag === "Left") return toResponse(new Unauthorized({ reason: "missing", message: "no verified grant" }))
      if (grant.right.expiresAt <= (yield* Clock.currentTimeMillis)) return toResponse(new Unauthorized({ reason: "expired", message: "grant expired" }))
      return yield* yjs.accept(grant.right)
    })

  const operations = { ...room.operations, ...implement(CrdtOnlyOps, { applyYjsUpdate, syncYjs, setAwareness, getAwareness, stream, compact, documentStats }) } satisfies Dispatcher<typeof CrdtRoomOps>
  const allJobs: Record<string, JobHandler> = { ...room.jobs, [COMPACT_JOB]: compactJob, [AWARENESS_JOB]: awarenessJob }
  return {
    // Every operation stores pending updates first (see `flushPending`).
    operations: Object.fromEntries(Object.entries(operations).map(([name, op]): [string, Operation] => [name, (input, caller) => afterPending(op(input, caller))])),
    jobs: Object.fromEntries(Object.entries(allJobs).map(([name, job]) => [name, Effect.suspend(() => afterPending(job))])),
    fetch: (request) => afterPending(fetch(request)),
    // A y-websocket write reveals nothing: it joins the pending updates instead of storing them.
    webSocketMessage: (socket, message) =>
      isYjs(socket) && isWriteFrame(message) ? socketLayer.message(socket, message) : afterPending(socketLayer.message(socket, message)),
    // Room frames on a CRDT room take the mailbox path: they may read what pending updates caused.
    webSocketMessageNow: (socket, message) => {
      if (!isYjs(socket)) return afterPending(socketLayer.message(socket, message))
      if (isWriteFrame(message)) return socketLayer.messageNow(socket, message)
      // Read frames (a joiner's sync step 1) are answered synchronously: pending updates are stored first.
      if (store.hasPending()) flushPending()
      const rest = socketLayer.messageNow(socket, message)
      return rest === undefined ? undefined : afterPending(rest)
    },
    webSocketClose: (socket, code, reason) => afterPending(socketLayer.closed(socket, code, reason)),
    webSocketError: (socket) => afterPending(socketLayer.errored(socket)),
  } satisfies ActorBehavior
})
