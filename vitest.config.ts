import { cloudflareTest } from "@cloudflare/vitest-plugin"
import { existsSync, readFileSync } from "node:fs"
import { dirname, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

// The real editing trace ships with the tests (test/fixtures, CC BY 4.0, attribution in its
// README) so a fresh clone runs the whole suite; it is handed to the Worker as a binding.
const tracePath = resolve(dirname(fileURLToPath(import.meta.url)), "test/fixtures/automerge-paper.json.gz")
const traceBindings: Record<string, string> = existsSync(tracePath) ? { AUTOMERGE_PAPER_TRACE_GZ_BASE64: readFileSync(tracePath).toString("base64") } : {}

export default defineConfig({
  plugins: [cloudflareTest({ wrangler: { configPath: "./test/wrangler.toml" }, miniflare: { bindings: traceBindings } })],
  test: {
    reporters: ["default", "./test/summary-reporter.ts"],
    projects: [
      {
        extends: true,
        test: {
          name: "workerd",
          include: ["test/**/*.test.ts"],
          // The browser test runs in Node against wrangler dev (vitest.browser.config.ts).
          exclude: ["test/browser/**", "test/db-*.test.ts"],
          // One module graph for every file: effect and the library load once instead of per file
          // (the suite took ~3x longer isolated). These tests use fresh ids, so sharing storage is safe.
          isolate: false,
        },
      },
      {
        extends: true,
        // The database tests use fixed row ids (primary keys are unique per shard): each file
        // gets its own storage.
        test: { name: "workerd-db", include: ["test/db-*.test.ts"], isolate: true },
      },
    ],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // A Durable Object alarm may still be running when its test file's environment closes; the
    // pool then rejects its pending module load. That is the test host shutting down, not a
    // failure of the code under test, so only that one error name is ignored.
    onUnhandledError: (error) => (error as { name?: string }).name === "EnvironmentTeardownError" ? false : undefined,
  },
})
