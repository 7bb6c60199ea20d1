// The V8 heap of the benchmark Worker's isolate, read over the inspector that `wrangler dev`
// serves (the Worker and every Durable Object of bench/worker.ts share that isolate locally).
// RSS cannot show what hibernation frees (V8 and the allocator keep freed pages); the heap's used
// size after a full GC can: it is what live JavaScript objects hold.
import WebSocket from "ws"

/** Bytes of V8 heap in use after a full GC (`HeapProfiler.takeHeapSnapshot`, then `Runtime.getHeapUsage`). */
export const heapUsedAfterGc = async (inspectorPort) => {
  const targets = await (await fetch(`http://127.0.0.1:${inspectorPort}/json`)).json()
  if (!Array.isArray(targets) || targets.length === 0) throw new Error(`no inspector target on port ${inspectorPort}`)
  const socket = new WebSocket(targets[0].webSocketDebuggerUrl, { perMessageDeflate: false })
  await new Promise((resolve, reject) => {
    socket.once("open", resolve)
    socket.once("error", reject)
  })
  let nextId = 0
  const pending = new Map()
  socket.on("message", (data) => {
    const message = JSON.parse(data.toString())
    const waiter = pending.get(message.id)
    if (waiter === undefined) return
    pending.delete(message.id)
    if (message.error !== undefined) waiter.reject(new Error(`${message.error.message} (${waiter.method})`))
    else waiter.resolve(message.result)
  })
  const call = (method, params = {}) =>
    new Promise((resolve, reject) => {
      const id = ++nextId
      pending.set(id, { resolve, reject, method })
      socket.send(JSON.stringify({ id, method, params }))
    })
  try {
    // A heap snapshot starts with a full GC. (`HeapProfiler.collectGarbage` gets no answer through
    // wrangler's inspector proxy; the snapshot's own answer is not relayed either, so it is not
    // awaited: the inspector handles messages in order, so `getHeapUsage` answers after it.)
    // The snapshot's chunks arrive as events and are ignored.
    socket.send(JSON.stringify({ id: ++nextId, method: "HeapProfiler.takeHeapSnapshot", params: { reportProgress: false } }))
    const usage = await call("Runtime.getHeapUsage")
    return usage.usedSize
  } finally {
    socket.close()
  }
}
