// Room clients for the soak: grants from the example app, WebSockets with the `ws` package.
import WebSocket from "ws"

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

export const percentile = (values, p) => {
  if (values.length === 0) return null
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]
}

// The example app knows people by their session cookie (POST /login), one login per soak user.
const sessions = new Map()
export const sessionCookie = (base, user) => {
  const key = `${base} ${user}`
  if (!sessions.has(key)) {
    sessions.set(
      key,
      fetch(`${base}/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: user }) }).then((response) => {
        if (!response.ok) throw new Error(`login refused: ${response.status}`)
        return (response.headers.get("set-cookie") ?? "").split(";")[0]
      }),
    )
  }
  return sessions.get(key)
}

export const grantFor = async (base, room, user, kind = "rooms") => {
  const response = await fetch(`${base}/api/grants/${kind}/${encodeURIComponent(room)}`, { headers: { cookie: await sessionCookie(base, user) } })
  if (!response.ok) throw new Error(`grant refused: ${response.status}`)
  return response.json()
}

export const publishOverHttp = async (base, room, message) => {
  try {
    const response = await fetch(`${base}/rooms/${encodeURIComponent(room)}/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", cookie: await sessionCookie(base, "publisher") },
      body: JSON.stringify(message),
    })
    await response.arrayBuffer()
    return response.ok
  } catch {
    return false
  }
}

/** Open `count` clients to one room (at most `concurrency` handshakes at a time); resolves once each is ready or failed. */
export const openClients = async (base, room, count, { concurrency, kind = "rooms", rooms = 1 }) => {
  const sockets = []
  const handlers = []
  let ready = 0
  let errors = 0
  const openOne = async (index) => {
    try {
      const target = rooms === 1 ? room : `${room}-${index % rooms}`
      const grant = await grantFor(base, target, `soak-${index}`, kind)
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

/** One publisher socket: `publish(message)` resolves true on the server's ack, false on an error frame or timeout. */
export const openPublisher = async (base, room) => {
  const grant = await grantFor(base, room, "publisher")
  const socket = new WebSocket(`${base.replace(/^http/, "ws")}${grant.url}`, grant.protocols)
  const waiting = new Map()
  await new Promise((resolve, reject) => {
    socket.on("message", (raw) => {
      const frame = JSON.parse(raw.toString())
      if (frame.type === "ready") resolve()
      if ((frame.type === "ack" || frame.type === "error") && waiting.has(frame.id)) {
        waiting.get(frame.id)(frame.type === "ack")
        waiting.delete(frame.id)
      }
    })
    socket.on("error", reject)
  })
  let next = 0
  return {
    publish: (message) =>
      new Promise((resolve) => {
        const id = `p${next++}`
        const timer = setTimeout(() => {
          waiting.delete(id)
          resolve(false)
        }, 10_000)
        waiting.set(id, (ok) => {
          clearTimeout(timer)
          resolve(ok)
        })
        socket.send(JSON.stringify({ type: "publish", id, message }))
      }),
    close: () => socket.terminate(),
  }
}
