/**
 * Guards on what a client sends over a transport socket, before anything parses it: frame size
 * (`maxFrameBytes`), then the shared `RateBudget` (frames and bytes, per connection and per user),
 * with the same close codes as the room sockets (1009 too big, 4009 after repeated rate strikes).
 *
 * Budgets and strikes live in memory: hibernation forgets them, which only refills them.
 *
 * @since 0.1.0
 */
import type { ResolvedConfig } from "../Config.js"
import { CloseCode, LimitExceeded, PayloadTooLarge } from "../RealtimeError.js"
import { describeRefusal, makeRateBudget } from "../services/RateBudget.js"

/** Rate-limited messages tolerated (within the window) before the socket is closed. */
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

export const makeSocketGuard = (config: Pick<ResolvedConfig, "maxFrameBytes" | "rateLimit" | "actorRateLimit">) => {
  const budget = makeRateBudget({ connection: config.rateLimit, actor: config.actorRateLimit })
  const strikes = new Map<string, { count: number; lastAt: number }>()
  const ok: Verdict = { _tag: "Ok" }
  return {
    /** Admit one message of a connection of `userId`, or say why not (and whether to close). */
    check: (connectionId: string, userId: string, message: string | ArrayBuffer, now: number): Verdict => {
      const size = sizeOf(message, config.maxFrameBytes)
      if (size > config.maxFrameBytes) {
        return {
          _tag: "Refused",
          error: new PayloadTooLarge({ field: "message", size, limit: config.maxFrameBytes, message: `message: ${size} bytes exceeds the limit of ${config.maxFrameBytes}` }),
          close: { code: CloseCode.tooBig, reason: "message too big" },
        }
      }
      const refusal = budget.admit(connectionId, userId, typeof message === "string" ? message.length : message.byteLength, now)
      if (refusal === undefined) return ok
      let strike = strikes.get(connectionId)
      if (strike === undefined) strikes.set(connectionId, (strike = { count: 0, lastAt: 0 }))
      // Abuse is a sustained pattern: strikes older than the window are forgiven.
      if (now - strike.lastAt > RATE_STRIKE_WINDOW_MS) strike.count = 0
      strike.lastAt = now
      strike.count++
      return {
        _tag: "Refused",
        error: new LimitExceeded({ limit: "rate", message: describeRefusal(refusal) }),
        ...(strike.count >= MAX_RATE_STRIKES ? { close: { code: CloseCode.rateLimited, reason: "rate limit exceeded" } } : {}),
      }
    },
    forget: (connectionId: string) => {
      budget.forget(connectionId)
      strikes.delete(connectionId)
    },
  }
}
