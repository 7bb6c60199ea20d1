// Build the installable package into dist/: ES modules with source maps (esbuild, one output file
// per source file, so an app's bundler keeps only what it imports) and .d.ts declarations (tsc
// with tsconfig.build.json). Entries: every "exports" target in package.json; the React and
// transport entries are built whenever their sources exist.
import { build } from "esbuild"
import { execFileSync } from "node:child_process"
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs"
import { dirname, join, relative } from "node:path"
import { fileURLToPath } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const src = join(root, "src")
const dist = join(root, "dist")

const sources = (dir) =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return sources(path)
    return /\.tsx?$/.test(name) && !name.endsWith(".d.ts") ? [path] : []
  })

rmSync(dist, { recursive: true, force: true })
const entryPoints = sources(src)
await build({
  entryPoints,
  outdir: dist,
  outbase: src,
  bundle: false,
  format: "esm",
  platform: "neutral",
  target: "es2022",
  jsx: "automatic",
  sourcemap: true,
  logLevel: "warning",
})
execFileSync(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", join(root, "tsconfig.build.json")], { stdio: "inherit", cwd: root })

// Every export of package.json must point at a built file (and its declarations).
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"))
const missing = []
for (const [entry, target] of Object.entries(pkg.exports)) {
  if (typeof target !== "object" || target === null) continue
  for (const file of [target.types, target.import]) if (file && !existsSync(join(root, file))) missing.push(`${entry}: ${file}`)
}
for (const optional of ["react", "transport"]) {
  if (existsSync(join(src, optional, "index.ts")) && !(`./${optional}` in pkg.exports)) missing.push(`./${optional}: src/${optional}/index.ts exists but package.json has no "./${optional}" export`)
}
if (missing.length > 0) {
  console.error(`build: exports without a built file:\n  ${missing.join("\n  ")}`)
  process.exit(1)
}
console.log(`built ${entryPoints.length} modules into ${relative(root, dist)}/ (entries: ${Object.keys(pkg.exports).join(", ")})`)
