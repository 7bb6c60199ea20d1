import { cloudflareTest } from "@cloudflare/vitest-plugin"
import { defineConfig } from "vitest/config"

/** `npx vitest run --config bench/db/vitest.config.ts`: the database latency benchmark (not part of `npm test`). */
export default defineConfig({
  plugins: [cloudflareTest({ wrangler: { configPath: "./bench/db/wrangler.toml" } })],
  test: {
    include: ["bench/db/**/*.bench.test.ts"],
    testTimeout: 300_000,
    hookTimeout: 60_000,
    onUnhandledError: (error) => ((error as { name?: string }).name === "EnvironmentTeardownError" ? false : undefined),
  },
})
