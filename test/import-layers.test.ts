/// <reference types="vite/client" />
/**
 * Imports in src/ run one way: down the layers declared here (the same map as docs/DESIGN.md,
 * "Layers of the system"). A module may import its own layer or a lower one, never a higher one,
 * the three domain verticals (the actors, the database, the transport hub) never import each
 * other (each stands on the shared layers below it), and the browser client (client/, react/)
 * stands on the foundation alone: no Worker module imports it, it imports no Worker module.
 *
 * The sources are read through Vite's `import.meta.glob` (raw text), so the check runs inside the
 * same workerd test run as everything else and needs no file system.
 */
import { describe, expect, it } from "vitest"

/** Bottom to top. A path belongs to the most specific entry naming it: a file over its folder, a sub-folder over a folder. */
const LAYERS: ReadonlyArray<{ readonly name: string; readonly paths: ReadonlyArray<string> }> = [
  { name: "foundation", paths: ["RealtimeError.ts", "internal/", "schema/"] },
  { name: "browser client", paths: ["client/", "react/"] },
  { name: "platform", paths: ["Config.ts", "services/", "storage/"] },
  { name: "actor runtime", paths: ["actors/Actor.ts", "actors/Ops.ts", "sockets/", "sse/"] },
  { name: "domain", paths: ["actors/", "db/", "transport/"] },
  { name: "durable", paths: ["durable/"] },
  { name: "http", paths: ["http/", "db/DbRoutes.ts"] },
  { name: "api", paths: ["Realtime.ts", "facade.ts", "db/facade.ts", "db/Database.ts", "inspect/", "transport/createRealtime.ts"] },
  { name: "entries", paths: ["index.ts", "db/index.ts", "durable/index.ts", "transport/index.ts"] },
]

/** Domain verticals: none of them imports another (the actor runtime below is what they share). */
const VERTICALS = ["actors/", "db/", "transport/"]

/** The browser side: only its own modules import it. */
const BROWSER = ["client/", "react/"]

const matches = (path: string, pattern: string) => (pattern.endsWith("/") ? path.startsWith(pattern) : path === pattern)

/** The layer of a path under src/: the most specific pattern wins (a file over its folder). */
const layerOf = (path: string): number => {
  let best: { layer: number; length: number } | undefined
  LAYERS.forEach(({ paths }, layer) => {
    for (const pattern of paths) {
      if (matches(path, pattern) && (best === undefined || pattern.length > best.length)) best = { layer, length: pattern.length }
    }
  })
  if (best === undefined) throw new Error(`src/${path} is in no layer: add it to LAYERS in test/import-layers.test.ts`)
  return best.layer
}

const verticalOf = (path: string) => (layerOf(path) === LAYERS.findIndex((l) => l.name === "domain") ? VERTICALS.find((v) => path.startsWith(v)) : undefined)

/** A relative specifier resolved against the importing file, both relative to src/, with ".js" read as the ".ts" source. */
const resolve = (from: string, specifier: string): string => {
  const parts = from.split("/").slice(0, -1)
  for (const segment of specifier.split("/")) {
    if (segment === "..") parts.pop()
    else if (segment !== ".") parts.push(segment)
  }
  return parts.join("/").replace(/\.js$/, ".ts")
}

/** Every relative module specifier of a source text (static imports, re-exports, dynamic imports). */
const specifiers = (source: string): ReadonlyArray<string> =>
  [...source.matchAll(/(?:\bfrom|\bimport)\s*\(?\s*["'](\.{1,2}\/[^"']+)["']/g)].map((match) => match[1])

/** The imports of `files` (path under src/ → text) that run upward or across verticals. */
const violations = (files: Readonly<Record<string, string>>): ReadonlyArray<string> =>
  Object.entries(files).flatMap(([from, text]) =>
    specifiers(text).flatMap((specifier) => {
      let to = resolve(from, specifier)
      if (!(to in files) && `${to.replace(/\.ts$/, "")}.tsx` in files) to = `${to.replace(/\.ts$/, "")}.tsx`
      const [fromLayer, toLayer] = [layerOf(from), layerOf(to)]
      if (toLayer > fromLayer) return [`src/${from} (${LAYERS[fromLayer].name}) imports src/${to} (${LAYERS[toLayer].name}), a higher layer`]
      if (BROWSER.some((b) => to.startsWith(b)) && !BROWSER.some((b) => from.startsWith(b))) return [`src/${from} imports src/${to}: Worker modules never import the browser client`]
      const [fromVertical, toVertical] = [verticalOf(from), verticalOf(to)]
      if (fromVertical !== undefined && toVertical !== undefined && fromVertical !== toVertical) return [`src/${from} imports src/${to}: the ${fromVertical} and ${toVertical} verticals stay apart`]
      return []
    }),
  )

const sources: Record<string, string> = Object.fromEntries(
  Object.entries(import.meta.glob<string>(["../src/**/*.ts", "../src/**/*.tsx", "!../src/**/*.d.ts"], { query: "?raw", import: "default", eager: true })).map(([path, text]) => [path.replace(/^\.\.\/src\//, ""), text]),
)

describe("import layers", () => {
  it("reads the whole of src/", () => {
    expect(Object.keys(sources)).toContain("index.ts")
    expect(Object.keys(sources)).toContain("internal/rpc.ts")
    expect(Object.keys(sources).length).toBeGreaterThan(100)
  })

  it("places every module of src/ in a layer", () => {
    for (const path of Object.keys(sources)) expect(() => layerOf(path)).not.toThrow()
  })

  it("finds no import running upward or across verticals", () => {
    expect(violations(sources)).toEqual([])
  })

  it("flags an upward import and a cross-vertical import", () => {
    expect(violations({ "internal/rpc.ts": 'import { AddressHeaders } from "../actors/Actor.js"', "actors/Actor.ts": "" })).toEqual([
      "src/internal/rpc.ts (foundation) imports src/actors/Actor.ts (actor runtime), a higher layer",
    ])
    expect(violations({ "db/hub/TableHub.ts": 'import { x } from "../../actors/live/LiveGrant.js"', "actors/live/LiveGrant.ts": "" })).toEqual([
      "src/db/hub/TableHub.ts imports src/actors/live/LiveGrant.ts: the db/ and actors/ verticals stay apart",
    ])
    expect(violations({ "index.ts": 'export { connectRoom } from "./client/index.js"', "client/index.ts": "" })).toEqual([
      "src/index.ts imports src/client/index.ts: Worker modules never import the browser client",
    ])
    expect(violations({ "client/Connection.ts": 'import { Realtime } from "../Realtime.js"', "Realtime.ts": "" })).toEqual([
      "src/client/Connection.ts (browser client) imports src/Realtime.ts (api), a higher layer",
    ])
    expect(violations({ "facade.ts": 'export { realtime } from "./Realtime.js"\nconst m = await import("./schema/Common.js")', "Realtime.ts": "", "schema/Common.ts": "" })).toEqual([])
  })
})
