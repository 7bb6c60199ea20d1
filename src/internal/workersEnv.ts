/**
 * The Worker's env, read from `cloudflare:workers` so the facade works outside handler arguments.
 * @since 0.1.0
 */
import { env } from "cloudflare:workers"

export const workersEnv = (): Record<string, unknown> => env as unknown as Record<string, unknown>
