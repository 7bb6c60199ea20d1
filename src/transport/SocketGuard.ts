/**
 * Guards on what a client sends over a transport socket, before anything parses it: frame size
 * (`maxFrameBytes`) and a per-connection token bucket (`rateLimit`), with the same close codes as
 * the room sockets (1009 too big, 4009 rate limited after repeated strikes).
 *
 * Buckets live in memory: hibernation forgets them, which only refills them.
 *
 * @since 0.1.0
 */
import type { ResolvedConfig } from "../Config.js"
import { CloseCode, LimitExceeded, PayloadTooLarge } from "../RealtimeError.js"

/** Rate-limited frames tolerated (within the window) before the socket is closed. */
export const MAX_RATE_STRIKES = 20
const RATE_STRIKE_WINDOW_MS = 10_000

export type Verdict =
  | { readonly _tag: "Ok" }
  | { readonly _tag: "Refused"; readonly error: PayloadTooLarge | LimitExceeded; readonly close?: { readonly code: number; readonly reason: string } }

const sizeOf = (message: string | ArrayBuffer, limit: number): number => {
  if (typeof message !== "string") return message.byteLength
  // UTF-8 takes one to three bytes per UTF-16 unit: encode only when the answer is not obvious.
  if (message.length > limit || message.length * 3 <= limit) return message.length
  return new TextEncoder().encode(message).byteLength
}

export const makeSocketGuard = (config: Pick<ResolvedConfig, "maxFrameBytes" | "rateLimit">) => {
  const buckets = new Map<string, { tokens: number; at: number; strikes: number; lastStrikeAt: number }>()
  const ok: Verdict = { _tag: "Ok" }
  return {
    check: (connectionId: string, message: string | ArrayBuffer, now: number): Verdict => {
      const size = sizeOf(message, config.maxFrameBytes)
      if (size > config.maxFrameBytes) {
        return {
          _tag: "Refused",
          error: new PayloadTooLarge({ field: "message", size, limit: config.maxFrameBytes, message: `message: ${size} bytes exceeds the limit of ${config.maxFrameBytes}` }),
          close: { code: CloseCode.tooBig, reason: "message too big" },
        }
      }
      let bucket = buckets.get(connectionId)
      if (bucket === undefined) buckets.set(connectionId, (bucket = { tokens: config.rateLimit.burst, at: now, strikes: 0, lastStrikeAt: 0 }))
      bucket.tokens = Math.min(config.rateLimit.burst, bucket.tokens + ((now - bucket.at) / 1000) * config.rateLimit.perSecond)
      bucket.at = now
      if (bucket.tokens >= 1) {
        bucket.tokens -= 1
        return ok
      }
      if (now - bucket.lastStrikeAt > RATE_STRIKE_WINDOW_MS) bucket.strikes = 0
      bucket.lastStrikeAt = now
      bucket.strikes++
      return {
        _tag: "Refused",
        error: new LimitExceeded({ limit: "rate", message: `more than ${config.rateLimit.perSecond} messages per second` }),
        ...(bucket.strikes >= MAX_RATE_STRIKES ? { close: { code: CloseCode.rateLimited, reason: "rate limit exceeded" } } : {}),
      }
    },
    forget: (connectionId: string) => {
      buckets.delete(connectionId)
    },
  }
}
