// Bundle the example pages (examples/web/*.ts) for the browser with esbuild, into
// examples/public/build/, which wrangler serves as static assets.
import { build } from "esbuild"
import { readdirSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const files = readdirSync(join(root, "examples/web"))
// Plain pages (.ts) and the React pages (.tsx, on durable-realtime/react).
const entries = ["chat.ts", "editor.ts", "dashboard.ts", "feed.ts", "transport.ts", "react-chat.tsx", "react-editor.tsx", "react-feed.tsx", "inspector.tsx"].filter((file) => files.includes(file))
const pages = entries.map((file) => file.replace(/\.tsx?$/, ""))

await build({
  entryPoints: entries.map((file) => join(root, "examples/web", file)),
  jsx: "automatic",
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
