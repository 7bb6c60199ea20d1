import { cloudflareTest } from "@cloudflare/vitest-plugin"
import { existsSync, readFileSync } from "node:fs"
import { dirname, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"
import { buildObjectsScript } from "./test/isolates/build.js"

// The real editing trace is read from ../shared/traces at run time (never copied into the repo) and
// handed to the Worker as a binding; without it the trace test replays a generated trace
// (test/fixtures/editingTrace.ts), so a fresh clone runs the whole suite.
const tracePath = resolve(dirname(fileURLToPath(import.meta.url)), "../shared/traces/automerge-paper.json.gz")
const traceBindings: Record<string, string> = existsSync(tracePath) ? { AUTOMERGE_PAPER_TRACE_GZ_BASE64: readFileSync(tracePath).toString("base64") } : {}

// The cross-isolate topology: the Durable Objects run in their own worker script (pre-bundled
// here), the test runner's Worker reaches them through `scriptName` bindings and declares nothing
// that script cannot see on its own.
const objectsScriptName = "durable-realtime-objects"
const objectClasses = {
  REALTIME_ROOMS: "RealtimeRoom",
  REALTIME_CHANNELS: "RealtimeChannel",
  REALTIME_DIRECTORY: "RealtimeDirectory",
  REALTIME_CRDT_ROOMS: "RealtimeCrdtRoom",
  REALTIME_DB_SHARDS: "RealtimeDbShard",
  REALTIME_TABLE_HUBS: "RealtimeTableHub",
  REALTIME_TRANSPORT: "RealtimeTransportHub",
}
const bindObjects = (scriptName?: string) =>
  Object.fromEntries(Object.entries(objectClasses).map(([binding, className]) => [binding, { className, useSQLite: true, ...(scriptName ? { scriptName } : {}) }]))
const runtime = { compatibilityDate: "2026-10-01", compatibilityFlags: ["nodejs_compat"] }
const crossIsolate = cloudflareTest({
  main: "./test/isolates/caller.ts",
  miniflare: {
    ...runtime,
    // Grants fail closed without a secret; the caller Worker signs and verifies them.
    bindings: { REALTIME_GRANT_SECRET: "test-only-grant-secret-for-the-cross-isolate-suite-4b9e1d7c" },
    durableObjects: bindObjects(objectsScriptName),
    serviceBindings: { OBJECTS: objectsScriptName },
    workers: [{ name: objectsScriptName, modules: true, scriptPath: buildObjectsScript(), ...runtime, durableObjects: bindObjects() }],
  },
})

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
          exclude: ["test/browser/**", "test/db-*.test.ts", "test/isolates/**"],
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
      {
        // Not `extends`: this project's runner Worker is the caller script, not the test Worker.
        plugins: [crossIsolate],
        test: { name: "workerd-isolates", include: ["test/isolates/*.test.ts"], testTimeout: 30_000, hookTimeout: 30_000 },
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
