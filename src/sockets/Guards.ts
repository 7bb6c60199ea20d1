/**
 * The guards every inbound frame passes before its protocol reads it: frame size (measured
 * without parsing), and strike counts for refused frames. The rate budget itself is
 * `RateBudget` (frames and bytes, per connection and per actor), supplied by each protocol.
 *
 * Strikes live in memory: hibernation or eviction forgets them, which only forgives.
 *
 * @since 0.2.0
 */

/** Rate-limited frames tolerated within `RATE_STRIKE_WINDOW_MS` before the socket is closed (4009). */
export const MAX_RATE_STRIKES = 20
/** Rate strikes further apart than this start the count again: abuse is a sustained pattern. */
export const RATE_STRIKE_WINDOW_MS = 10_000

/** The size of a frame in bytes when it is over `limit`, else `undefined`; text is encoded only when that is not obvious. */
export const frameTooBig = (message: string | ArrayBuffer, limit: number): number | undefined => {
  if (typeof message !== "string") return message.byteLength > limit ? message.byteLength : undefined
  // UTF-8 takes at least one byte and at most three per UTF-16 unit.
  if (message.length > limit) return message.length
  if (message.length * 3 <= limit) return undefined
  const size = new TextEncoder().encode(message).byteLength
  return size > limit ? size : undefined
}

/** What the rate budget charges for a frame: text counts UTF-16 code units, binary bytes. */
export const chargedBytes = (message: string | ArrayBuffer): number => (typeof message === "string" ? message.length : message.byteLength)

interface StrikeCount {
  invalid: number
  rate: number
  lastRateAt: number
}

/** Strike counts per connection, created on a connection's first refused frame only. */
export const makeStrikes = () => {
  const counts = new Map<string, StrikeCount>()
  const of = (connectionId: string): StrikeCount => {
    let count = counts.get(connectionId)
    if (count === undefined) counts.set(connectionId, (count = { invalid: 0, rate: 0, lastRateAt: 0 }))
    return count
  }
  return {
    /** One more invalid frame; returns the connection's count. */
    invalid: (connectionId: string): number => ++of(connectionId).invalid,
    /** One more frame over budget at `now`; returns the count within the window. */
    rate: (connectionId: string, now: number): number => {
      const count = of(connectionId)
      if (now - count.lastRateAt > RATE_STRIKE_WINDOW_MS) count.rate = 0
      count.lastRateAt = now
      return ++count.rate
    },
    forget: (connectionId: string): void => {
      counts.delete(connectionId)
    },
  }
}
