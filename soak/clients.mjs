// Room clients for the soak: grants from the example app, WebSockets with the `ws` package.
import WebSocket from "ws"

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

export const percentile = (values, p) => {
  if (values.length === 0) return null
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]
}

export const grantFor = async (base, room, user) => {
  const response = await fetch(`${base}/api/grants/rooms/${encodeURIComponent(room)}?user=${encodeURIComponent(user)}`)
  if (!response.ok) throw new Error(`grant refused: ${response.status}`)
  return response.json()
}

export const publishOverHttp = async (base, room, message) => {
  try {
    const response = await fetch(`${base}/rooms/${encodeURIComponent(room)}/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-user-id": "publisher" },
      body: JSON.stringify(message),
    })
    await response.arrayBuffer()
    return response.ok
  } catch {
    return false
  }
}

/** Open `count` clients to one room (at most `concurrency` handshakes at a time); resolves once each is ready or failed. */
export const openClients = async (base, room, count, { concurrency }) => {
  const sockets = []
  const handlers = []
  let ready = 0
  let errors = 0
  const openOne = async (index) => {
    try {
      const grant = await grantFor(base, room, `soak-${index}`)
      await new Promise((resolve) => {
        const socket = new WebSocket(`${base.replace(/^http/, "ws")}${grant.url}`, grant.protocols)
        const timer = setTimeout(() => {
          errors++
          socket.terminate()
          resolve()
        }, 30_000)
        socket.on("message", (raw) => {
          const frame = JSON.parse(raw.toString())
          if (frame.type === "ready") {
            ready++
            clearTimeout(timer)
            resolve()
          } else if (frame.type === "message") for (const handler of handlers) handler(frame.message)
        })
        socket.on("error", () => {
          errors++
          clearTimeout(timer)
          resolve()
        })
        sockets.push(socket)
      })
    } catch {
      errors++
    }
  }
  let next = 0
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) await openOne(next++)
    }),
  )
  return {
    get ready() {
      return ready
    },
    errors,
    onMessage: (handler) => handlers.push(handler),
    closeAll: () => {
      for (const socket of sockets) socket.terminate()
    },
  }
}
