// Open-loop load: operations start on a fixed schedule whatever the server's pace, and latency is
// measured from each operation's scheduled time, so a slow server cannot hide its queueing
// (no coordinated omission).
import WebSocket from "ws"

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Call `operation(index, scheduledAt)` `rate` times per second for `durationMs` (at most `count`
 * operations when given). `scheduledAt` is `performance.now()` time. Resolves when all are issued.
 */
export const openLoop = async ({ rate, durationMs, count = Infinity, operation }) => {
  const interval = 1000 / rate
  const start = performance.now()
  const total = Math.min(count, Math.floor((durationMs / 1000) * rate))
  for (let index = 0; index < total; index++) {
    const scheduledAt = start + index * interval
    const wait = scheduledAt - performance.now()
    if (wait > 1) await sleep(wait)
    // A wait under 1 ms is not slept (timers would oversleep it), so the operation may go out up to
    // 1 ms early: latency then counts from when it went out (before 2026-11-30 ~20:10 UTC it counted
    // from the later schedule, and sub-millisecond p50s read as 0.001 ms).
    operation(index, Math.min(scheduledAt, performance.now()))
  }
  return total
}

/** Wait until `condition()` holds (checked every 10 ms) or `timeoutMs` passes; resolves whether it held. */
export const waitFor = async (condition, timeoutMs) => {
  const deadline = performance.now() + timeoutMs
  while (!condition()) {
    if (performance.now() > deadline) return false
    await sleep(10)
  }
  return true
}

/**
 * Open one WebSocket and resolve once `isReady(data)` accepts a received frame (or at open when
 * `isReady` is omitted). Frames after that go to `onFrame(data)`. Rejects after 30 s.
 */
export const openSocket = (url, { protocols, isReady, onFrame = () => {}, binary = false } = {}) =>
  new Promise((resolve, reject) => {
    const socket = new WebSocket(url, protocols, { perMessageDeflate: false })
    if (binary) socket.binaryType = "arraybuffer"
    let ready = false
    const timer = setTimeout(() => {
      socket.terminate()
      reject(new Error(`socket not ready in 30 s: ${url}`))
    }, 30_000)
    const markReady = () => {
      ready = true
      clearTimeout(timer)
      resolve(socket)
    }
    socket.on("open", () => {
      if (isReady === undefined) markReady()
    })
    socket.on("message", (data, isBinary) => {
      if (ready) onFrame(data, isBinary)
      else if (isReady?.(data, isBinary)) markReady()
    })
    socket.on("error", (error) => {
      clearTimeout(timer)
      if (!ready) reject(error)
    })
  })

/** Open `count` sockets, `concurrency` handshakes at a time; `make(index)` opens one. */
export const openMany = async (count, make, concurrency = 50) => {
  const sockets = new Array(count)
  let next = 0
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) {
        const index = next++
        sockets[index] = await make(index)
      }
    }),
  )
  return sockets
}

/** Close sockets and wait (up to 5 s) for them to finish closing. */
export const closeAll = async (sockets) => {
  await Promise.all(
    sockets.filter(Boolean).map(
      (socket) =>
        new Promise((resolve) => {
          if (socket.readyState === WebSocket.CLOSED) return resolve()
          const timer = setTimeout(() => {
            socket.terminate()
            resolve()
          }, 5000)
          socket.once("close", () => {
            clearTimeout(timer)
            resolve()
          })
          socket.close()
        }),
    ),
  )
}

/** A grant from the benchmark Worker for one client of this library (`prefix`: another instance's grant route). */
export const grantFor = async (server, kind, id, user, permissions, prefix = "/grant") => {
  const query = new URLSearchParams({ user, ...(permissions === undefined ? {} : { permissions: permissions.join(",") }) })
  const response = await fetch(`${server.url}${prefix}/${kind}/${encodeURIComponent(id)}?${query}`)
  if (!response.ok) throw new Error(`grant refused: ${response.status} ${await response.text()}`)
  return response.json()
}
