// Adds lock entries for optional platform packages the local registry mirror does not serve
// (workerd's darwin/windows builds, msgpackr-extract's prebuilds). npm writes such entries, with
// their os/cpu, when it can see those packages; without them `npm ci` refuses the lock as out of
// sync. With them, npm ci skips the packages on platforms they are not for.
// Run after any `npm install` that rewrites package-lock.json: node scripts/complete-lock.mjs
import { readFileSync, writeFileSync } from "node:fs"

const path = new URL("../package-lock.json", import.meta.url)
const lock = JSON.parse(readFileSync(path, "utf8"))
const platformOf = (name) => {
  const os = /darwin/.test(name) ? "darwin" : /win(32|dows)/.test(name) ? "win32" : /linux/.test(name) ? "linux" : undefined
  const cpu = /arm64/.test(name) ? "arm64" : /-arm$/.test(name) ? "arm" : /(x)?64/.test(name) ? "x64" : undefined
  return { os, cpu }
}
let added = 0
for (const [key, entry] of Object.entries(lock.packages)) {
  for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const base = key === "" ? "" : `${key}/`
    if (lock.packages[`${base}node_modules/${name}`] || lock.packages[`node_modules/${name}`]) continue
    const { os, cpu } = platformOf(name)
    if (os === undefined || cpu === undefined) continue
    lock.packages[`node_modules/${name}`] = {
      version,
      ...(entry.dev ? { dev: true } : {}),
      optional: true,
      os: [os],
      cpu: [cpu],
    }
    added++
  }
}
lock.packages = Object.fromEntries(Object.entries(lock.packages).sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a.localeCompare(b))))
writeFileSync(path, JSON.stringify(lock, null, 2) + "\n")
console.log(`complete-lock: added ${added} optional platform entries`)
