// Before `wrangler dev`: make sure .dev.vars (next to wrangler.toml, git-ignored) holds a grant
// secret. Grants fail closed without one, and a fresh clone has none: create a random one rather
// than fall back to a key whose value is public. An existing secret is never replaced (that would
// invalidate every grant and session an open tab holds).
import { randomBytes } from "node:crypto"
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"

const file = join(import.meta.dirname, "..", ".dev.vars")
const current = existsSync(file) ? readFileSync(file, "utf8") : ""
if (/^\s*REALTIME_GRANT_SECRET\s*=\s*\S/m.test(current)) process.exit(0)
const line = `REALTIME_GRANT_SECRET=${randomBytes(32).toString("hex")}\n`
const separator = current === "" || current.endsWith("\n") ? "" : "\n"
const header = current === "" ? "# Local secrets for `wrangler dev` (git-ignored). Created by scripts/dev-vars.mjs; see .dev.vars.example.\n" : ""
writeFileSync(file, `${current}${separator}${header}${line}`, { mode: 0o600 })
console.log(`dev-vars: wrote a random REALTIME_GRANT_SECRET to ${file}`)
