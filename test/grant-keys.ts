/** The suite's grant key (test/wrangler.toml), for tests that hand-craft tokens to attack the routes. */
import { env } from "cloudflare:test"
import { keyIdOf } from "../src/services/Grants.js"

export const TEST_GRANT_SECRET = (env as unknown as { REALTIME_GRANT_SECRET: string }).REALTIME_GRANT_SECRET

/** The key tokens are signed with in tests: its id (as the library derives it) and its bytes. */
export const testGrantKey = { kid: keyIdOf(TEST_GRANT_SECRET), key: new TextEncoder().encode(TEST_GRANT_SECRET) }

/**
 * `token` with one character of its signature changed, in the middle: the signature's last base64url
 * character carries 2 unused bits, so rewriting the token's end was sometimes no change at all (an HS256
 * signature ending in "xw", "xy" or "xz" was still valid as "...xx": one run in ~1,000 failed).
 */
export const tamperSignature = (token: string): string => {
  const at = token.lastIndexOf(".") + 10
  return `${token.slice(0, at)}${token[at] === "A" ? "B" : "A"}${token.slice(at + 1)}`
}
