// The V8 profiling tools' shared parts: `wrangler dev`'s command line with a fixed devtools
// inspector port (the harness's server starts without one, see bench/README.md "No devtools
// inspector"), a devtools protocol session on it, the bundle's source, and self time per profile node.
import { spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import WebSocket from "ws"

const ROOT = join(import.meta.dirname, "..", "..", "..")

/**
 * The benchmark Worker on `wrangler dev` (fresh local storage under `label`, wrangler's local
 * observability collector off as in bench/harness/server.mjs), its inspector on `inspectorPort`.
 */
export const startInspectedDev = async (label) => {
  const port = 18_000 + Math.floor(Math.random() * 2000)
  const inspectorPort = port + 1
  const storage = mkdtempSync(join(tmpdir(), `${label}-`))
  const args = ["dev", "--config", join(ROOT, "bench/wrangler.toml"), "--ip", "127.0.0.1", "--port", String(port), "--persist-to", storage]
  const child = spawn(
    process.execPath,
    [join(ROOT, "node_modules/wrangler/bin/wrangler.js"), ...args, "--inspector-port", String(inspectorPort), "--var", `REALTIME_GRANT_SECRET:${randomBytes(32).toString("hex")}`],
    {
      cwd: ROOT,
      env: { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false", X_LOCAL_OBSERVABILITY: process.env.X_LOCAL_OBSERVABILITY ?? "false" },
      stdio: ["ignore", "pipe", "pipe"],
    },
  )
  const exited = new Promise((resolve) => child.once("exit", resolve))
  const stop = async () => {
    child.kill("SIGTERM")
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))])
    rmSync(storage, { recursive: true, force: true })
  }
  let output = ""
  try {
    await new Promise((resolve, reject) => {
      const onData = (chunk) => {
        output += chunk.toString()
        if (output.includes("Ready on")) resolve()
      }
      child.stdout.on("data", onData)
      child.stderr.on("data", onData)
      exited.then(() => reject(new Error(output)))
      setTimeout(() => reject(new Error(output)), 60_000).unref()
    })
  } catch (error) {
    await stop()
    throw error
  }
  const url = `http://127.0.0.1:${port}`
  // `cpuMs` for workloads that read it: the inspector's own cost makes CPU figures meaningless here.
  return { url, wsUrl: url.replace(/^http/, "ws"), inspectorPort, cpuMs: async () => 0, stop }
}

/**
 * A devtools protocol session with the first target wrangler's inspector lists (the Worker's
 * isolate, listed once its workerd has started, i.e. after the first request). `scripts` collects
 * every parsed script (`{ scriptId, url }`) once the Debugger is enabled.
 */
export const openInspector = async (inspectorPort) => {
  const targets = await (await fetch(`http://127.0.0.1:${inspectorPort}/json`)).json()
  const socket = new WebSocket(targets[0].webSocketDebuggerUrl)
  await new Promise((resolve) => socket.once("open", resolve))
  let nextId = 1
  const waiting = new Map()
  const scripts = []
  socket.on("message", (data) => {
    const message = JSON.parse(data.toString())
    if (message.method === "Debugger.scriptParsed") scripts.push({ scriptId: message.params.scriptId, url: message.params.url })
    if (message.id !== undefined) waiting.get(message.id)?.(message)
  })
  const call = (method, params = {}) =>
    new Promise((resolve) => {
      const id = nextId++
      waiting.set(id, resolve)
      socket.send(JSON.stringify({ id, method, params }))
    })
  return { call, scripts, close: () => socket.close() }
}

/** The source of the Worker's bundle (`worker.js`, the last one parsed), "" when none is listed. */
export const workerBundleSource = async (inspector) => {
  await inspector.call("Debugger.enable")
  await new Promise((resolve) => setTimeout(resolve, 500))
  const bundles = inspector.scripts.filter((script) => script.url.endsWith("worker.js"))
  const source = bundles.length > 0 ? (await inspector.call("Debugger.getScriptSource", { scriptId: bundles.at(-1).scriptId })).result.scriptSource : ""
  await inspector.call("Debugger.disable")
  return source
}

/** Self time per profile node, µs: the time deltas (the sampling interval is not exact under load). */
export const selfUsByNode = (profile) => {
  const selfUs = new Map()
  profile.samples.forEach((node, index) => selfUs.set(node, (selfUs.get(node) ?? 0) + (profile.timeDeltas[index] ?? 0)))
  return selfUs
}

/** Samples per profile node. */
export const samplesByNode = (profile) => {
  const counts = new Map()
  for (const node of profile.samples) counts.set(node, (counts.get(node) ?? 0) + 1)
  return counts
}
