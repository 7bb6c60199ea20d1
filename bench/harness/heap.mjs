// The V8 heap of the benchmark Worker's isolate after a full garbage collection. Under wrangler dev
// the Worker and every Durable Object of bench/worker.ts share that one isolate, so its heap is what
// the objects' JavaScript state holds: unlike RSS (V8 and the allocator keep the pages they freed),
// it falls when an evicted object's state is collected.
//
// How (each piece chosen because the alternatives do not work here):
// - the collection: `POST /bench/heap/gc` (bench/heapRoute.ts) calls V8's `gc()`, exposed by
//   starting workerd with `--expose-gc` (`startBenchServer({ inspector: true, v8Flags: ["--expose-gc"] })`).
//   `HeapProfiler.collectGarbage` gets no answer through wrangler's inspector proxy and frees
//   nothing; a heap snapshot (which collects first) never finished once this library's room was
//   loaded (bench/notes/wake.md).
// - the reading: `Runtime.getHeapUsage` over wrangler dev's inspector proxy (workerd's own
//   inspector port answers nothing while the proxy holds its session). wrangler is started with
//   `--inspector-port 0`, so the proxy's port is found from /proc: the listening sockets of the
//   server's workerd processes, the one whose `/json/list` names a `/ws` debugger URL.
import { readFileSync, readdirSync, readlinkSync } from "node:fs"
import WebSocket from "ws"
import { workerdPidsUnder } from "./procs.mjs"

/** Listening TCP ports by socket inode (IPv4 and IPv6 tables; state 0A is LISTEN). */
const listeningPorts = () => {
  const ports = new Map()
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    for (const line of readFileSync(table, "utf8").split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/)
      if (fields.length < 10 || fields[3] !== "0A") continue
      ports.set(fields[9], Number.parseInt(fields[1].split(":")[1], 16))
    }
  }
  return ports
}

/** The ports the workerd processes under `rootPid` listen on. */
const workerdPorts = (rootPid) => {
  const listening = listeningPorts()
  const ports = []
  for (const pid of workerdPidsUnder(rootPid)) {
    try {
      for (const fd of readdirSync(`/proc/${pid}/fd`)) {
        const inode = /socket:\[(\d+)\]/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1]
        if (inode !== undefined && listening.has(inode)) ports.push(listening.get(inode))
      }
    } catch {
      // the process or descriptor went away meanwhile
    }
  }
  return ports
}

/** wrangler's inspector proxy: the debugger URL ending in `/ws` among the workerd processes' ports. */
const findInspectorUrl = async (rootPid) => {
  for (const port of workerdPorts(rootPid)) {
    try {
      const response = await fetch(`http://127.0.0.1:${port}/json/list`, { signal: AbortSignal.timeout(2000) })
      if (!response.ok) continue
      const target = (await response.json()).find((entry) => entry.webSocketDebuggerUrl?.endsWith("/ws"))
      if (target !== undefined) return target.webSocketDebuggerUrl
    } catch {
      // not an HTTP port
    }
  }
  throw new Error(`no inspector proxy among the ports of wrangler dev (pid ${rootPid})`)
}

const CALL_TIMEOUT_MS = 10_000

/**
 * Open the isolate's inspector for `server` (from startBenchServer with `--expose-gc`).
 * `afterGc()` collects twice (the route runs three full collections each time) and reads the heap:
 * `{ usedBytes, externalBytes }`, external being ArrayBuffer backing stores outside the V8 heap.
 */
export const openHeapProbe = async (server) => {
  const inspectorUrl = await findInspectorUrl(server.pid)
  const socket = new WebSocket(inspectorUrl, { perMessageDeflate: false })
  await new Promise((resolve, reject) => {
    socket.once("open", resolve)
    socket.once("error", reject)
  })
  let nextId = 0
  const pending = new Map()
  const listeners = new Set()
  socket.on("message", (data) => {
    const message = JSON.parse(data.toString())
    const waiter = pending.get(message.id)
    if (waiter === undefined) {
      for (const listener of listeners) listener(message)
      return
    }
    pending.delete(message.id)
    if (message.error !== undefined) waiter.reject(new Error(`${waiter.method}: ${message.error.message}`))
    else waiter.resolve(message.result)
  })
  const call = (method, params = {}) =>
    new Promise((resolve, reject) => {
      const id = ++nextId
      const timer = setTimeout(() => {
        pending.delete(id)
        reject(new Error(`${method}: no answer from the inspector in ${CALL_TIMEOUT_MS / 1000} s`))
      }, CALL_TIMEOUT_MS)
      pending.set(id, { method, resolve: (value) => (clearTimeout(timer), resolve(value)), reject: (error) => (clearTimeout(timer), reject(error)) })
      socket.send(JSON.stringify({ id, method, params }))
    })
  const collect = async () => {
    const response = await fetch(`${server.url}/bench/heap/gc`, { method: "POST" })
    if (!response.ok) throw new Error(`gc route: ${response.status} ${await response.text()}`)
  }
  return {
    inspectorUrl,
    /** Any inspector method, and its events (diagnostics beyond the heap figure). */
    call,
    onEvent: (listener) => listeners.add(listener),
    afterGc: async () => {
      await collect()
      await collect()
      const usage = await call("Runtime.getHeapUsage")
      return { usedBytes: usage.usedSize, externalBytes: usage.backingStorageSize ?? 0 }
    },
    close: () => socket.close(),
  }
}
