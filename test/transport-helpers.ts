/**
 * Helpers for the transport tests: SSE streams and raw WebSockets through the test Worker, with
 * collectors that wait for what arrives instead of sleeping.
 */
import { SELF } from "cloudflare:test"
import { eventually } from "./live-helpers.js"

export interface SseEvent {
  readonly event: string
  readonly data: unknown
}

export interface TestStream {
  readonly response: Response
  readonly events: Array<SseEvent>
  readonly comments: Array<string>
  /** Resolves when the body ends (closed by the server, or dropped). */
  readonly ended: Promise<"done" | "error">
  readonly waitFor: (predicate: (event: SseEvent) => boolean, timeoutMs?: number) => Promise<SseEvent>
  readonly close: () => Promise<void>
}

/** Open an SSE stream as `user` (no user: no identity header). */
export const openStream = async (path: string, user?: string): Promise<TestStream> => {
  const response = await SELF.fetch(`http://example.com${path}`, { headers: user === undefined ? {} : { "x-test-user": user, accept: "text/event-stream" } })
  const events: Array<SseEvent> = []
  const comments: Array<string> = []
  const reader = response.status === 200 ? response.body?.getReader() : undefined
  const decoder = new TextDecoder()
  let buffer = ""
  const ended = (async (): Promise<"done" | "error"> => {
    if (reader === undefined) return "done"
    try {
      for (;;) {
        const { done, value } = await reader.read()
        if (done) return "done"
        buffer += decoder.decode(value, { stream: true })
        let end: number
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          let event = "message"
          const data: Array<string> = []
          for (const line of block.split("\n")) {
            if (line.startsWith(":")) comments.push(line.slice(1).trim())
            else if (line.startsWith("event: ")) event = line.slice(7)
            else if (line.startsWith("data: ")) data.push(line.slice(6))
          }
          if (data.length > 0) events.push({ event, data: JSON.parse(data.join("\n")) })
        }
      }
    } catch {
      return "error"
    }
  })()
  return {
    response,
    events,
    comments,
    ended,
    waitFor: (predicate, timeoutMs = 3000) => eventually(() => events.find(predicate), timeoutMs, "an SSE event"),
    close: async () => {
      await reader?.cancel().catch(() => undefined)
    },
  }
}

export interface TestWs {
  readonly response: Response
  readonly socket: WebSocket
  readonly messages: Array<string>
  readonly closed: Promise<{ code: number; reason: string }>
  readonly send: (message: string) => void
  readonly waitFor: (predicate: (message: string) => boolean, timeoutMs?: number) => Promise<string>
  /** The parsed `{ event, data }` frames among the messages. */
  readonly waitForEvent: (event: string, timeoutMs?: number) => Promise<{ event: string; data: any }>
  readonly close: () => void
}

/** Open a raw WebSocket as `user`; resolves with the refusing response when not upgraded. */
export const openWs = async (path: string, user?: string): Promise<{ response: Response; ws?: TestWs }> => {
  const response = await SELF.fetch(`http://example.com${path}`, { headers: { Upgrade: "websocket", ...(user === undefined ? {} : { "x-test-user": user }) } })
  const socket = response.webSocket
  if (socket === null) return { response }
  const messages: Array<string> = []
  let resolveClosed: (value: { code: number; reason: string }) => void = () => undefined
  const closed = new Promise<{ code: number; reason: string }>((resolve) => (resolveClosed = resolve))
  socket.addEventListener("message", (event) => {
    messages.push(typeof event.data === "string" ? event.data : "<binary>")
  })
  socket.addEventListener("close", (event) => resolveClosed({ code: event.code, reason: event.reason }))
  socket.accept()
  const waitFor = (predicate: (message: string) => boolean, timeoutMs = 3000) => eventually(() => messages.find(predicate), timeoutMs, "a socket message")
  const parse = (message: string): { event?: string; data?: unknown } => {
    try {
      return JSON.parse(message) as { event?: string }
    } catch {
      return {}
    }
  }
  return {
    response,
    ws: {
      response,
      socket,
      messages,
      closed,
      send: (message) => socket.send(message),
      waitFor,
      waitForEvent: async (event, timeoutMs) => parse(await waitFor((message) => parse(message).event === event, timeoutMs)) as { event: string; data: any },
      close: () => {
        try {
          socket.close(1000, "done")
        } catch {
          // closed
        }
      },
    },
  }
}

/** Open a socket that must be accepted. */
export const connectWs = async (path: string, user: string): Promise<TestWs> => {
  const { response, ws } = await openWs(path, user)
  if (ws === undefined) throw new Error(`socket refused: ${response.status} ${await response.text()}`)
  return ws
}

/** The events of one name a stream received. */
export const eventsNamed = (stream: TestStream, name: string) => stream.events.filter((event) => event.event === name)
