// `npm run test:package`: the package as a user gets it. Builds dist/, packs the tarball, writes a
// fresh Worker project from the files the README's "Wiring it into your Worker" section shows
// (each a fenced block whose first line names the file), installs the tarball and the peers with
// npm (`--prefer-offline`: the npm cache answers after the first run), typechecks the project,
// serves it with `wrangler dev` on 127.0.0.1 (one publish over HTTP, one WebSocket message) and
// bundles it with `wrangler deploy --dry-run`, reporting the bundle's size.
// `--keep` leaves the temp project in place; `--json <file>` writes the measured sizes.
import { execFileSync } from "node:child_process"
import { randomBytes } from "node:crypto"
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { gzipSync } from "node:zlib"
import { startExampleApp } from "./dev-server.ts"

const root = join(import.meta.dirname, "..")
const modules = join(root, "node_modules")
const args = process.argv.slice(2)
const run = (command, commandArgs, cwd) => execFileSync(command, commandArgs, { cwd, stdio: ["ignore", "pipe", "pipe"], encoding: "utf8", env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true" } })
const started = Date.now()
const step = (what) => console.log(`test:package: [${((Date.now() - started) / 1000).toFixed(1)} s] ${what}`)
const installedVersion = (name) => JSON.parse(readFileSync(join(modules, name, "package.json"), "utf8")).version

/** The files of the README's wiring section: fenced blocks whose first line is `# path` or `// path`. */
const wiringFiles = (readme) => {
  const start = readme.indexOf("## Wiring it into your Worker")
  if (start < 0) throw new Error("README has no 'Wiring it into your Worker' section")
  const section = readme.slice(start, readme.indexOf("\n## ", start + 1))
  const files = new Map()
  let install
  for (const match of section.matchAll(/```[a-z]*\n([\s\S]*?)```/g)) {
    const body = match[1]
    // `# wrangler.toml`, `// src/index.ts`, `# .dev.vars (a note)`: a line that is only a path (and a note).
    const named = /^(?:#|\/\/) ([\w./-]+)(?: \(.*\))?\n/.exec(body)
    if (named) files.set(named[1], body)
    else if (/^npm install (?!-D)/m.test(body)) install = /^npm install (?!-D)(.*)$/m.exec(body)[1].trim().split(/\s+/)
  }
  for (const needed of ["wrangler.toml", "src/index.ts", "tsconfig.json", ".dev.vars"]) {
    if (!files.has(needed)) throw new Error(`the README's wiring section shows no ${needed}`)
  }
  if (install === undefined) throw new Error("the README's wiring section has no `npm install` line")
  return { files, install }
}

const project = mkdtempSync(join(tmpdir(), "durable-realtime-package-"))
let server
try {
  step("build")
  run(process.execPath, [join(root, "scripts/build.mjs")], root)
  step("pack")
  const packed = JSON.parse(run("npm", ["pack", "--json", "--pack-destination", project], root))[0]
  const tarball = join(project, packed.filename)
  const shipped = packed.files.map((file) => file.path)
  for (const mustNot of ["src/", "test/", "examples/", "bench/"]) {
    if (shipped.some((path) => path.startsWith(mustNot))) throw new Error(`the tarball ships ${mustNot}`)
  }

  step(`write the README's project into ${project}`)
  const { files, install } = wiringFiles(readFileSync(join(root, "README.md"), "utf8"))
  for (const [path, body] of files) {
    mkdirSync(dirname(join(project, path)), { recursive: true })
    writeFileSync(join(project, path), path === ".dev.vars" ? body.replace("<a long random value>", randomBytes(32).toString("hex")) : body)
  }
  writeFileSync(join(project, "package.json"), JSON.stringify({ name: "my-app", private: true, type: "module" }, null, 2))

  step(`npm install ${install.join(" ")} (the library from its tarball, the peers at the versions this repo tests)`)
  const specs = install.map((name) => (name === "durable-realtime" ? tarball : `${name}@${installedVersion(name)}`))
  run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts", ...specs], project)
  // The dev tools (`npm install -D wrangler typescript @cloudflare/workers-types`) are large and
  // not what is under test: the project uses this repo's copies.
  mkdirSync(join(project, "node_modules/@cloudflare"), { recursive: true })
  symlinkSync(join(modules, "@cloudflare/workers-types"), join(project, "node_modules/@cloudflare/workers-types"), "dir")
  const peersOk = JSON.parse(run("npm", ["ls", "--json", "durable-realtime", "effect", "@effect/platform", "yjs"], project))
  const library = peersOk.dependencies["durable-realtime"]
  if (library === undefined || peersOk.dependencies.effect === undefined) throw new Error(`npm ls: ${JSON.stringify(peersOk)}`)
  // One copy of each peer: the library has no nested effect/yjs of its own.
  for (const peer of ["effect", "@effect/platform", "yjs"]) {
    try {
      statSync(join(project, "node_modules/durable-realtime/node_modules", peer))
      throw new Error(`durable-realtime installed its own ${peer}`)
    } catch (error) {
      if (error.code !== "ENOENT") throw error
    }
  }

  // Each entry ships as ESM with declarations and a source map; nothing else is importable.
  for (const entry of ["index", "client/index", "durable/index", "db/index"]) {
    for (const file of [`dist/${entry}.js`, `dist/${entry}.d.ts`, `dist/${entry}.js.map`]) {
      if (!shipped.includes(file)) throw new Error(`the tarball lacks ${file}`)
    }
  }
  const probe = (code) => run(process.execPath, ["--input-type=module", "-e", code], project)
  const deep = probe(`try { import.meta.resolve("durable-realtime/dist/actors/room/Room.js"); console.log("resolved") } catch (error) { console.log(error.code) }`).trim()
  if (deep !== "ERR_PACKAGE_PATH_NOT_EXPORTED") throw new Error(`a deep import resolved: ${deep}`)
  // The client entry runs outside Workers (browsers, Node 22+): it loads in plain Node.
  const client = probe(`const client = await import("durable-realtime/client"); console.log(typeof client.connectRoom)`).trim()
  if (client !== "function") throw new Error(`durable-realtime/client in Node: ${client}`)

  step("typecheck (tsc --noEmit)")
  const tsc = [join(modules, "typescript/bin/tsc"), "-p", join(project, "tsconfig.json")]
  run(process.execPath, tsc, project)
  // skipLibCheck (as a Worker project sets it) would hide errors in our own .d.ts files too: check
  // them once more with it off, counting only errors inside the package.
  let ownErrors = []
  try {
    run(process.execPath, [...tsc, "--skipLibCheck", "false"], project)
  } catch (error) {
    ownErrors = String(error.stdout).split("\n").filter((line) => line.startsWith("node_modules/durable-realtime/"))
  }
  if (ownErrors.length > 0) throw new Error(`errors in the package's declarations:\n${ownErrors.join("\n")}`)

  step("wrangler dev on 127.0.0.1")
  server = await startExampleApp({ config: join(project, "wrangler.toml"), label: "package" })
  const published = await fetch(`${server.url}/messages`, { method: "POST", body: "hello from the package" })
  if (published.status !== 201) throw new Error(`POST /messages: ${published.status} ${await published.text()}`)
  const message = await published.json()
  if (message.type !== "chat" || message.data.text !== "hello from the package") throw new Error(`publish answered ${JSON.stringify(message)}`)
  const grant = await (await fetch(`${server.url}/grant`)).json()
  const socketUrl = new URL(grant.url, server.url.replace("http", "ws"))
  const acked = await new Promise((resolve, reject) => {
    const socket = new WebSocket(socketUrl, grant.protocols)
    const timer = setTimeout(() => reject(new Error("no ack over the WebSocket in 10 s")), 10_000)
    socket.addEventListener("error", () => reject(new Error("WebSocket error")))
    socket.addEventListener("message", (event) => {
      const frame = JSON.parse(String(event.data))
      if (frame.type === "ready") socket.send(JSON.stringify({ type: "publish", id: "p1", message: { type: "chat", data: { text: "over the socket" } } }))
      if (frame.type === "ack" && frame.id === "p1") {
        clearTimeout(timer)
        socket.close(1000, "done")
        resolve(frame)
      }
      if (frame.type === "error") reject(new Error(`error frame: ${JSON.stringify(frame)}`))
    })
  })
  step(`served: publish 201 (seq ${message.seq}), socket ack for p1 (${JSON.stringify(acked).slice(0, 80)})`)
  await server.stop()
  server = undefined

  step("wrangler deploy --dry-run --outdir")
  const outdir = join(project, "out")
  run(process.execPath, [join(modules, "wrangler/bin/wrangler.js"), "deploy", "--dry-run", "--outdir", outdir, "--config", join(project, "wrangler.toml")], project)
  const bundles = readdirSync(outdir).filter((name) => name.endsWith(".js"))
  const bytes = bundles.reduce((sum, name) => sum + statSync(join(outdir, name)).size, 0)
  const gzip = bundles.reduce((sum, name) => sum + gzipSync(readFileSync(join(outdir, name)), { level: 9 }).length, 0)
  const tarballBytes = statSync(tarball).size
  const sizes = { bundleBytes: bytes, bundleGzipBytes: gzip, tarballBytes, tarballFiles: shipped.length }
  step(`bundle ${(bytes / 1024).toFixed(1)} KiB, gzip ${(gzip / 1024).toFixed(1)} KiB; tarball ${(tarballBytes / 1024).toFixed(1)} KiB, ${shipped.length} files`)
  const jsonAt = args.indexOf("--json")
  if (jsonAt >= 0) {
    // For BENCHMARKS.md: the same Worker minified (`wrangler deploy --minify`).
    const minOut = join(project, "out-min")
    run(process.execPath, [join(modules, "wrangler/bin/wrangler.js"), "deploy", "--dry-run", "--minify", "--outdir", minOut, "--config", join(project, "wrangler.toml")], project)
    const minified = readdirSync(minOut).filter((name) => name.endsWith(".js")).map((name) => readFileSync(join(minOut, name)))
    Object.assign(sizes, { minifiedBytes: minified.reduce((sum, b) => sum + b.length, 0), minifiedGzipBytes: minified.reduce((sum, b) => sum + gzipSync(b, { level: 9 }).length, 0) })
    writeFileSync(args[jsonAt + 1], JSON.stringify(sizes, null, 2) + "\n")
  }
  step("ok")
} catch (error) {
  console.error(`test:package: FAILED: ${error.stderr ?? ""}${error.stdout ?? ""}${error.stack ?? error}`)
  process.exitCode = 1
} finally {
  await server?.stop()
  if (!args.includes("--keep")) rmSync(project, { recursive: true, force: true })
  // The dev server helper's start-up timeout would hold the process for a minute more.
  process.exit(process.exitCode ?? 0)
}
