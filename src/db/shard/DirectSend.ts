/**
 * The drain's usual case without the drain: a write committed while nothing else of its shard's
 * outbox is pending or being sent hands its own changes to their hubs at once, from what its
 * commit returned (outbox ids, hubs, images), and marks them published when every hub
 * acknowledged. No outbox scan, no image load, no fiber: one promise per hub, and the mark rides the
 * next turn that writes (`OwedMarks`).
 *
 * Anything else is the drain's, unchanged: a hub that fails or refuses leaves the changes pending,
 * and the retry job armed before the commit drains them in order, counting attempts and parking as
 * it always does. Exactly once holds as for the drain (a hub drops an outbox id it already
 * applied), and so does order: the caller sends directly only when the outbox held no pending row
 * before this write's and no send is in flight (one flight shared with the drain's passes).
 *
 * @since 0.3.0
 */
import { Either, Exit } from "effect"
import type { StubCache } from "../../internal/ObjectStubs.js"
import { endSessions, invokeActor, type ActorNamespace } from "../../internal/rpc.js"
import type { SqlShape } from "../../services/Sql.js"
import { OUTBOX_TABLE } from "../Names.js"
import { TableHubOps } from "../Ops.js"
import type { ShardChange } from "../Protocol.js"
import { changesByHub, type DrainedChange } from "../Writes.js"
import { DRAIN_BATCH, SEND_CHARS } from "./Outbox.js"

/** Send a hub its changes; resolves `true` once the hub applied them, `false` on any failure or refusal. */
export type SendNow = (hub: string, changes: ReadonlyArray<ShardChange>) => Promise<boolean>

/** Whether a hub's answer acknowledges a publish: its counts read as they are (`trustedAnswer`), anything else decoded. */
const acknowledges = (answer: unknown) =>
  TableHubOps.publish.trustedSuccess(answer) !== undefined || Exit.isSuccess(TableHubOps.publish.decodeAnswerExit(answer))

/** The shard's sends to its hubs (`makeHubSends`). */
export interface HubSends {
  readonly send: SendNow
  /** Sends pause (nothing is pending): close the hubs' sessions now, or when the sends in flight have landed. */
  readonly pause: () => void
}

/**
 * The shard's `SendNow`: a publish through the shard's own stub of each hub, and from a hub's
 * second publish on through an RPC session that hub hands out (`rpc.CallOptions.session`: no new
 * subrequest here and no new incoming call in the hub per publish). A session stays correct for as
 * long as the stubs live because: direct sends never overlap each other or the drain's passes (one
 * flight, `DbShard.ts`), so calls reach a hub in the order they were made whichever way they go; a
 * session of a hub that restarted or broke fails its call, which forgets the stub and its session
 * (`rpc.invokeTarget`) and leaves the changes to the drain, and the next send starts over on a new
 * stub; a hub drops an outbox id it already applied, so nothing a broken call may have delivered is
 * applied twice. A held session keeps its hub's side of the call open (the hub cannot hibernate),
 * so the owner `pause`s when its sends pause: the sessions close (`rpc.endSessions`), never under
 * a call in flight.
 */
export const makeHubSends = (options: { readonly hubs: () => ActorNamespace | undefined; readonly instance: string; readonly stubs: StubCache }): HubSends => {
  const callOptions = { stubs: options.stubs, plain: true, session: true } as const
  let inFlight = 0
  let pauseWhenLanded = false
  const landed = (acknowledged: boolean) => {
    if (--inFlight === 0 && pauseWhenLanded) {
      pauseWhenLanded = false
      endSessions(options.stubs)
    }
    return acknowledged
  }
  return {
    send: (hubId, changes) => {
      const hubs = options.hubs()
      if (hubs === undefined) return Promise.resolve(false)
      inFlight++
      // Changes are built from the commit's own values (plain objects): no copy.
      return invokeActor(hubs, "tableHub", { instance: options.instance, id: hubId }, TableHubOps.publish.name, { changes }, undefined, callOptions).then(
        (answer) => landed(acknowledges(answer)),
        () => landed(false),
      )
    },
    pause: () => {
      if (inFlight === 0) endSessions(options.stubs)
      else pauseWhenLanded = true
    },
  }
}

/** Whether a batch's changes fit one send per hub, as a drain round would send them. */
export const fitsOneSend = (changes: ReadonlyArray<DrainedChange>) => {
  if (changes.length > DRAIN_BATCH) return false
  let chars = 0
  for (const { chars: size } of changes) chars += size
  return chars <= SEND_CHARS
}

/** Mark outbox rows published; `false` when the statement failed (the rows stay pending: the drain re-sends them, the hubs drop them). */
const markPublished = (sql: SqlShape, ids: ReadonlyArray<number>, at: number) =>
  Either.isRight(
    sql.statementNow((_exec, run) =>
      ids.length === 1
        ? run(`UPDATE ${OUTBOX_TABLE} SET published_at = ?, retry_at = NULL WHERE id = ? AND published_at IS NULL`, at, ids[0])
        : run(`UPDATE ${OUTBOX_TABLE} SET published_at = ?, retry_at = NULL WHERE id IN (SELECT value FROM json_each(?)) AND published_at IS NULL`, at, JSON.stringify(ids)),
    ),
  )

/**
 * The published marks of directly sent changes. A turn of a Durable Object that writes ends in a
 * commit of its own (a WAL write and a sync: the largest single cost of a write here, measured in
 * bench/notes/db.md), and an acknowledgement arrives in a turn of its own: marking there would cost
 * a commit per write. So a mark is owed instead, and stored by the next turn that writes anyway —
 * the next write's (`flush` before its commit), a drain pass's, the retry job's — while that job is
 * armed to come soon; without it, at once. Owed marks live in memory only: rows whose marks are
 * lost with the object stay pending and are re-sent at its wake (the hubs drop them by outbox id),
 * as a crash between acknowledgement and mark always allowed.
 */
export interface OwedMarks {
  /** Every hub applied these rows: mark them now, or owe the marks when `soon()` says a turn that writes will come. */
  readonly acknowledged: (ids: ReadonlyArray<number>) => boolean
  /** Store the owed marks in this turn; call before anything reads pending rows, and in a turn that writes anyway. */
  readonly flush: () => void
  /** Marks owed now. */
  readonly owed: () => number
}

export const makeOwedMarks = (sql: SqlShape, now: () => number, soon: () => boolean): OwedMarks => {
  let owed: Array<number> = []
  const flush = () => {
    if (owed.length === 0) return
    const ids = owed
    owed = []
    markPublished(sql, ids, now())
  }
  return {
    acknowledged: (ids) => {
      if (!soon()) {
        // Nothing will write soon: the marks owed so far go with these.
        const all = owed.length === 0 ? ids : [...owed, ...ids]
        owed = []
        return markPublished(sql, all, now())
      }
      for (const id of ids) owed.push(id)
      return true
    },
    flush,
    owed: () => owed.length,
  }
}

/**
 * Send a committed batch's changes, one call per hub in outbox order; resolves `true` when all were
 * acknowledged (and marked, or their marks owed: `OwedMarks`), `false` when they stay pending for the drain.
 */
export const sendDirect = (changes: ReadonlyArray<DrainedChange>, sendNow: SendNow, marks: OwedMarks): Promise<boolean> =>
  Promise.all(Array.from(changesByHub(changes), ([hub, list]) => sendNow(hub, list))).then((acknowledged) =>
    // As the drain marks a round: a failed mark leaves the rows pending, and the drain re-sends them (the hubs drop them).
    acknowledged.every(Boolean) ? marks.acknowledged(changes.map(({ change }) => change.outboxId)) : false,
  )
