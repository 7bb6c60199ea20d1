import { cloudflareTest } from "@cloudflare/vitest-plugin"
import { existsSync, readFileSync } from "node:fs"
import { dirname, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

// The real editing trace is read from ../shared/traces at run time (never copied into the repo)
// and handed to the Worker as a binding; the trace test fails clearly when it is missing.
const tracePath = resolve(dirname(fileURLToPath(import.meta.url)), "../shared/traces/automerge-paper.json.gz")
const traceBindings: Record<string, string> = existsSync(tracePath) ? { AUTOMERGE_PAPER_TRACE_GZ_BASE64: readFileSync(tracePath).toString("base64") } : {}

export default defineConfig({
  plugins: [cloudflareTest({ wrangler: { configPath: "./test/wrangler.toml" }, miniflare: { bindings: traceBindings } })],
  test: {
    include: ["test/**/*.test.ts"],
    // The browser test runs in Node against wrangler dev (vitest.browser.config.ts).
    exclude: ["test/browser/**"],
    reporters: ["default", "./test/summary-reporter.ts"],
    // One module graph for every file: effect and the library load once instead of per file
    // (the suite took ~3x longer isolated). Tests share nothing else: each uses fresh ids.
    isolate: false,
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // A Durable Object alarm may still be running when its test file's environment closes; the
    // pool then rejects its pending module load. That is the test host shutting down, not a
    // failure of the code under test, so only that one error name is ignored.
    onUnhandledError: (error) => (error as { name?: string }).name === "EnvironmentTeardownError" ? false : undefined,
  },
})
