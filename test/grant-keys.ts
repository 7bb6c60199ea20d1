/** The suite's grant key (test/wrangler.toml), for tests that hand-craft tokens to attack the routes. */
import { env } from "cloudflare:test"
import { keyIdOf } from "../src/services/Grants.js"

export const TEST_GRANT_SECRET = (env as unknown as { REALTIME_GRANT_SECRET: string }).REALTIME_GRANT_SECRET

/** The key tokens are signed with in tests: its id (as the library derives it) and its bytes. */
export const testGrantKey = { kid: keyIdOf(TEST_GRANT_SECRET), key: new TextEncoder().encode(TEST_GRANT_SECRET) }
