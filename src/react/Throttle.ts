/**
 * Presence throttling: a burst of updates (every mouse move) becomes at most one frame per
 * interval. The first update goes out at once, later ones are merged key by key into one pending
 * patch and sent when the interval ends, so the last state always arrives.
 *
 * @since 0.1.0
 */
import type { Timers } from "../client/index.js"

export interface PatchThrottle {
  readonly push: (patch: Record<string, unknown>) => void
  /** Send the pending patch now (e.g. before leaving). */
  readonly flush: () => void
  /** Drop the pending patch and the timer. */
  readonly cancel: () => void
}

export const throttlePatches = (send: (patch: Record<string, unknown>) => void, intervalMs: number, timers: Timers): PatchThrottle => {
  let pending: Record<string, unknown> | undefined
  let timer: unknown
  let lastSent = -Infinity
  const fire = () => {
    timer = undefined
    if (pending === undefined) return
    const patch = pending
    pending = undefined
    lastSent = timers.now()
    send(patch)
  }
  return {
    push: (patch) => {
      pending = { ...pending, ...patch }
      if (timer !== undefined) return
      const wait = lastSent + intervalMs - timers.now()
      if (wait <= 0) fire()
      else timer = timers.setTimeout(fire, wait)
    },
    flush: () => {
      if (timer !== undefined) timers.clearTimeout(timer)
      fire()
    },
    cancel: () => {
      if (timer !== undefined) timers.clearTimeout(timer)
      timer = undefined
      pending = undefined
    },
  }
}
