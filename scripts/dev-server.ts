/**
 * The example app on `wrangler dev` for the browser test and the soak: a free port on 127.0.0.1, a fresh local
 * storage directory, a random grant secret, and a stop that always runs.
 */
import { spawn, type ChildProcess } from "node:child_process"
import { randomBytes } from "node:crypto"
import { mkdtempSync, rmSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"

const root = join(import.meta.dirname, "..")

export const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => (typeof address === "object" && address !== null ? resolve(address.port) : reject(new Error("no port"))))
    })
  })

export interface DevServer {
  readonly url: string
  /** The wrangler process; workerd runs among its descendants. */
  readonly pid: number | undefined
  readonly stop: () => Promise<void>
}

/** `wrangler dev` for a config (the example app by default) on a free port with fresh local storage. */
export const startExampleApp = async (options: { readonly config?: string; readonly label?: string } = {}): Promise<DevServer> => {
  const port = await freePort()
  const storage = mkdtempSync(join(tmpdir(), `durable-realtime-${options.label ?? "browser"}-`))
  const child: ChildProcess = spawn(
    process.execPath,
    [join(root, "node_modules/wrangler/bin/wrangler.js"), "dev", ...(options.config === undefined ? [] : ["--config", options.config]), "--ip", "127.0.0.1", "--port", String(port), "--persist-to", storage, "--inspector-port", "0",
      // Grants fail closed without a secret: each server gets its own random one.
      "--var", `REALTIME_GRANT_SECRET:${randomBytes(32).toString("hex")}`],
    { cwd: root, env: { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false" }, stdio: ["ignore", "pipe", "pipe"] },
  )
  let output = ""
  const ready = new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString()
      if (output.includes("Ready on")) resolve()
    }
    child.stdout?.on("data", onData)
    child.stderr?.on("data", onData)
    child.once("exit", (code) => reject(new Error(`wrangler dev exited with ${code}:\n${output.slice(-2000)}`)))
    setTimeout(() => reject(new Error(`wrangler dev was not ready in 60 s:\n${output.slice(-2000)}`)), 60_000)
  })
  const stop = async () => {
    if (child.exitCode === null) {
      child.kill("SIGTERM")
      await new Promise((resolve) => {
        const timer = setTimeout(() => {
          child.kill("SIGKILL")
          resolve(undefined)
        }, 5000)
        child.once("exit", () => {
          clearTimeout(timer)
          resolve(undefined)
        })
      })
    }
    rmSync(storage, { recursive: true, force: true })
  }
  try {
    await ready
  } catch (error) {
    await stop()
    throw error
  }
  return { url: `http://127.0.0.1:${port}`, pid: child.pid, stop }
}
