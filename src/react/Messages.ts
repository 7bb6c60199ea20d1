/**
 * The message list of `useMessages`: history pages and live messages merged into one list,
 * ordered by `(epoch, seq)`, each position once.
 *
 * A list holds one epoch (one life of the room's history): a discontinuity resets it, and a
 * message of an epoch older than the list's is dropped.
 *
 * @since 0.1.0
 */
import type { StoredMessageEncoded } from "../client/index.js"

/** A stored message whose `data` has the application's type. */
export type TypedMessage<Data = unknown> = Omit<StoredMessageEncoded, "data"> & { readonly data: Data }

export interface MessageListState<Data = unknown> {
  /** Oldest first. */
  readonly messages: ReadonlyArray<TypedMessage<Data>>
  /** The epoch of every message in the list (`undefined` before the first one is known). */
  readonly epoch: string | undefined
  /** `nextCursor` of the last backward history page: `null` when nothing older exists. */
  readonly olderCursor: string | null | undefined
  readonly loadingOlder: boolean
  /** Counts discontinuities: the list was cleared and reloaded this many times. */
  readonly resets: number
}

export const emptyMessageList = <Data>(resets = 0): MessageListState<Data> => ({ messages: [], epoch: undefined, olderCursor: undefined, loadingOlder: false, resets })

/**
 * Merge messages into a list: dedupe by position, keep ascending `seq` within the list's epoch.
 * Returns the same state object when nothing changed.
 */
export const mergeMessages = <Data>(state: MessageListState<Data>, incoming: ReadonlyArray<TypedMessage<Data>>, epoch?: string): MessageListState<Data> => {
  const current = state.epoch ?? epoch ?? incoming[0]?.epoch
  const fresh = incoming.filter((message) => message.epoch === current)
  if (fresh.length === 0) return current === state.epoch ? state : { ...state, epoch: current }
  const bySeq = new Map<number, TypedMessage<Data>>()
  for (const message of state.messages) bySeq.set(message.seq, message)
  let added = false
  for (const message of fresh) {
    if (bySeq.has(message.seq)) continue
    bySeq.set(message.seq, message)
    added = true
  }
  if (!added) return current === state.epoch ? state : { ...state, epoch: current }
  const messages = [...bySeq.values()].sort((a, b) => a.seq - b.seq)
  return { ...state, epoch: current, messages }
}
