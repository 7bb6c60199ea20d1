/**
 * Reconnect delays: exponential with a cap and jitter, so a thousand clients dropped at once do
 * not come back in the same millisecond.
 * @since 0.1.0
 */
export interface BackoffOptions {
  /** First delay. Default 250 ms. */
  readonly initialMs?: number
  /** Largest delay. Default 15 s. */
  readonly maxMs?: number
  /** Growth per attempt. Default 2. */
  readonly factor?: number
  /** Fraction of the delay taken off at random (0 = none, 1 = "full jitter"). Default 0.5. */
  readonly jitter?: number
}

/** The delay before reconnect attempt `attempt` (0-based), given a random number in [0, 1). */
export const backoffDelay = (attempt: number, random: number, options: BackoffOptions = {}): number => {
  const initial = options.initialMs ?? 250
  const max = options.maxMs ?? 15_000
  const factor = options.factor ?? 2
  const jitter = Math.min(1, Math.max(0, options.jitter ?? 0.5))
  const base = Math.min(max, initial * factor ** Math.max(0, attempt))
  return Math.round(base * (1 - jitter * random))
}
