// The fan-out family's targets: how each one's sockets connect, what a publisher sends, and how a
// receiver recognises a published frame. Shared by the fanout, fanout-saturation and wake workloads.
import { closeAll, grantFor, openMany, openSocket, sleep } from "../harness/load.mjs"

export const TARGETS = {
  room: { label: "durable-realtime room", library: "rooms" },
  channel: { label: "durable-realtime channel", library: "channels" },
  loop: { label: "raw loop", path: (id) => `/floor/fanout-loop/${encodeURIComponent(id)}` },
  partyHibernating: { label: "partyserver (hibernating)", path: (id) => `/parties/fanout-party-hibernating/${encodeURIComponent(id)}` },
  partyInMemory: { label: "partyserver (in memory)", path: (id) => `/parties/fanout-party-in-memory/${encodeURIComponent(id)}` },
  // The same room and channel classes plus a construction counter (bench/observed.ts), for the idle-heap workload.
  observedRoom: { label: "durable-realtime room", library: "rooms", grantPrefix: "/bench-observed/grant" },
  observedChannel: { label: "durable-realtime channel", library: "channels", grantPrefix: "/bench-observed/grant" },
}

export const FLOOR = TARGETS.loop.label

/**
 * The payload a publisher sends: `{"fseq":…,"t":…,"p":"xxx…"}` padded to `bytes` (JSON length).
 * The library wraps the same object in a client `broadcast` frame (ephemeral, sender excluded);
 * the floor and partyserver relay it as it is.
 */
export const payloadOf = (seq, bytes) => {
  const bare = JSON.stringify({ fseq: seq, t: Date.now(), p: "" })
  return JSON.stringify({ fseq: seq, t: Date.now(), p: "x".repeat(Math.max(0, bytes - bare.length)) })
}

const SEQ = /"fseq":(\d+)/

/** The publisher's sequence number in a received frame, or -1 for any other frame (ready, joined, …). */
export const seqOf = (data) => {
  const match = SEQ.exec(typeof data === "string" ? data : data.toString())
  return match === null ? -1 : Number(match[1])
}

const isReadyFrame = (data) => data.toString().startsWith('{"type":"ready"')

/**
 * Connect `receivers` sockets and one publisher to a fresh object of `targetKey`.
 * Grants (library targets) are fetched first so the CPU figure of connecting excludes them.
 * Every frame goes to `onFrame(data, socketIndex)`; the publisher's own frames too (index -1).
 */
export const connectTarget = async (server, targetKey, id, receivers, onFrame, { concurrency = 50, withPublisher = true } = {}) => {
  const target = TARGETS[targetKey]
  const count = receivers + (withPublisher ? 1 : 0)
  let grants
  if (target.library !== undefined) {
    grants = await openMany(count, (index) => grantFor(server, target.library, id, index === receivers ? "publisher" : `r${index}`, undefined, target.grantPrefix), concurrency)
  }
  const cpuBefore = await server.cpuMs()
  const started = performance.now()
  const open = (index) => {
    const frameHandler = (data) => onFrame(data, index === receivers ? -1 : index)
    if (grants !== undefined) {
      const grant = grants[index]
      return openSocket(`${server.wsUrl}${grant.url}`, { protocols: grant.protocols, isReady: isReadyFrame, onFrame: frameHandler })
    }
    return openSocket(`${server.wsUrl}${target.path(id)}`, { onFrame: frameHandler })
  }
  const sockets = await openMany(count, open, concurrency)
  return { sockets, receivers: sockets.slice(0, receivers), publisher: sockets[receivers], cpuBefore, connectMs: performance.now() - started }
}

/** The frame a publisher sends for `payload` on `targetKey`. */
export const publishFrame = (targetKey, payload) =>
  TARGETS[targetKey].library === undefined ? payload : `{"type":"broadcast","event":{"type":"b","data":${payload}}}`

/** Resolve once no frame has arrived for `quietMs` (rooms announce every join to every member), at most `timeoutMs`. */
export const settle = async (lastFrameAt, quietMs = 500, timeoutMs = 60_000) => {
  const deadline = performance.now() + timeoutMs
  while (performance.now() - lastFrameAt() < quietMs && performance.now() < deadline) await sleep(50)
}

export { closeAll }
