/**
 * Bundle the Durable Objects' script of the cross-isolate topology (test/isolates/objects.ts)
 * into one ES module, so Miniflare can run it as an auxiliary worker (auxiliary workers are not
 * transformed by Vite). Called by vitest.config.ts when the config loads.
 */
import { buildSync } from "esbuild"
import { dirname, resolve } from "node:path"
import { fileURLToPath } from "node:url"

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..")
export const objectsScript = resolve(root, ".wrangler/isolates/objects.mjs")

export const buildObjectsScript = () => {
  buildSync({
    entryPoints: [resolve(root, "test/isolates/objects.ts")],
    outfile: objectsScript,
    bundle: true,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    conditions: ["workerd", "worker", "browser", "import"],
    mainFields: ["module", "main"],
    external: ["cloudflare:*", "node:*"],
    sourcemap: "inline",
    logLevel: "warning",
  })
  return objectsScript
}
