// Bundle the example pages (examples/web/*.ts) for the browser with esbuild, into
// examples/public/build/, which wrangler serves as static assets.
import { build } from "esbuild"
import { readdirSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const pages = ["chat", "editor", "dashboard", "feed", "transport"].filter((page) => readdirSync(join(root, "examples/web")).includes(`${page}.ts`))

await build({
  entryPoints: pages.map((page) => join(root, "examples/web", `${page}.ts`)),
  outdir: join(root, "examples/public/build"),
  bundle: true,
  format: "esm",
  target: "es2022",
  platform: "browser",
  sourcemap: true,
  minify: process.argv.includes("--minify"),
  logLevel: "warning",
})
console.log(`built ${pages.join(", ")} into examples/public/build`)
