/**
 * Resume: what a reconnecting subscriber missed, from the message log.
 *
 * The plan is computed and delivered inside the actor's mailbox, in the same turn that adds the
 * connection to the fan-out, so no publish can fall between the replayed messages and the live
 * stream: in order, no gap, no duplicate. When the log cannot cover the gap, the plan says why
 * (a discontinuity), never a silent gap.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { InvalidInput, type StorageFailure } from "../../RealtimeError.js"
import type { StoredMessage } from "../../schema/Message.js"
import { parsePosition, type DiscontinuityFrame } from "../../schema/Protocol.js"
import type { MessageLog } from "./MessageLog.js"

export interface ResumePlan {
  readonly messages: ReadonlyArray<StoredMessage>
  readonly discontinuity: DiscontinuityFrame | undefined
  readonly resumed: boolean
  /** The position the subscriber is at after the replay. */
  readonly epoch: string
  readonly seq: number
}

/**
 * Plan a resume from `since` (`<epoch>:<seq>`, or a bare `<seq>` in the current epoch).
 * `destroyed` rooms cannot be resumed.
 */
export const planResume = (
  log: MessageLog,
  since: string | undefined,
  options: { readonly destroyed: boolean; readonly limit: number },
): Effect.Effect<ResumePlan, InvalidInput | StorageFailure> =>
  Effect.gen(function* () {
    const epoch = log.epoch()
    const lastSeq = log.lastSeq()
    const fresh = (reason?: DiscontinuityFrame["reason"]): ResumePlan => ({
      messages: [],
      discontinuity: reason === undefined ? undefined : { type: "discontinuity", reason, since: since ?? "", epoch, seq: lastSeq },
      resumed: false,
      epoch,
      seq: lastSeq,
    })
    if (since === undefined || since === "") return options.destroyed ? fresh() : fresh()
    const position = parsePosition(since)
    if (position === undefined) {
      return yield* new InvalidInput({ field: "since", message: "since: must be <epoch>:<seq> as delivered with a message" })
    }
    if (options.destroyed) return fresh("destroyed")
    if (position.epoch !== undefined && position.epoch !== epoch) return fresh("epoch")
    if (position.seq > lastSeq) return fresh("ahead")
    const messages = yield* log.since(position.seq, options.limit)
    if (messages === undefined) return fresh("pruned")
    const last = messages[messages.length - 1]
    return { messages, discontinuity: undefined, resumed: true, epoch, seq: last === undefined ? position.seq : last.seq }
  })
