import { cloudflareTest } from "@cloudflare/vitest-plugin"
import { defineConfig } from "vitest/config"

export default defineConfig({
  plugins: [cloudflareTest({ wrangler: { configPath: "./test/wrangler.toml" } })],
  test: {
    include: ["test/**/*.test.ts"],
    reporters: ["default", "./test/summary-reporter.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // A Durable Object alarm may still be running when its test file's environment closes; the
    // pool then rejects its pending module load. That is the test host shutting down, not a
    // failure of the code under test, so only that one error name is ignored.
    onUnhandledError: (error) => (error as { name?: string }).name === "EnvironmentTeardownError" ? false : undefined,
  },
})
