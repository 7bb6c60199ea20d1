// Yjs ingest (issue 16): a real editing trace sent through ONE stock y-websocket
// `WebsocketProvider` (Node, `ws`) as fast as it can, one edit per transaction (one update each);
// the clock stops when a fresh reader decodes the exact final text. The reader is a raw socket
// that sends sync step 1 with an empty state vector and decodes the server's sync step 2: it
// never applies the live stream, so it measures what the server holds, not what it relays.
// It polls (a new socket every POLL_MS) from the moment the last edit left the provider; each poll
// first reads only the state vector the server sends on connect (its sync step 1) and asks for the
// whole document, on that socket, only once that covers the provider's: a whole-document read per
// poll made the server encode and send the whole document (311 KB at the end of automerge-paper)
// up to 15 times while it was still ingesting, work the reader caused, not the ingest. (Until
// 2026-11-30 20:10 UTC the whole-document read opened a second socket: one more connect, 5-20 ms,
// in every target's time.) The warm-up is `npm run bench`'s (bench/README.md "Warm-up"): every cell once
// at its --quick size, unmeasured, before run 1.
import * as decoding from "lib0/decoding"
import * as encoding from "lib0/encoding"
import WebSocket from "ws"
import { WebsocketProvider } from "y-websocket"
import * as syncProtocol from "y-protocols/sync"
import * as Y from "yjs"
import { grantFor, sleep, waitFor } from "../harness/load.mjs"
import { FLOOR, LIBRARY, MEMORY_FLOOR, PEER, targets } from "./yjs/targets.mjs"
import { applyEdit } from "./yjs/trace.mjs"
import { loadNamedTrace } from "./yjs/traces.mjs"

const POLL_MS = 50
const YIELD_EVERY = 500 // edits between yields to Node's event loop, so the socket drains as it goes

/** `ws` without per-message deflate (the workers runtime does not negotiate it either). */
class PlainWebSocket extends WebSocket {
  constructor(url, protocols) {
    super(url, protocols, { perMessageDeflate: false })
  }
}

/** Where a provider connects: y-websocket builds `${serverUrl}/${roomName}?${params}`. */
const providerEndpoint = async (server, cell, id) => {
  if (cell.target === LIBRARY) {
    const grant = await grantFor(server, "crdt", id, "editor", ["read", "write"])
    const url = new URL(grant.yjs.serverUrl, server.wsUrl)
    const params = Object.fromEntries(url.searchParams)
    url.search = ""
    return { serverUrl: url.toString(), roomName: grant.yjs.roomName, params, protocols: grant.yjs.protocols }
  }
  const target = new URL((await targets[cell.target].endpoint(server, id, "editor", "editor")).url)
  const params = Object.fromEntries(target.searchParams)
  const path = target.pathname
  const cut = path.lastIndexOf("/")
  return { serverUrl: `${target.origin}${path.slice(0, cut)}`, roomName: decodeURIComponent(path.slice(cut + 1)), params, protocols: [] }
}

/** Sync step 1 with an empty state vector: what a fresh reader sends. */
const emptyStep1 = () => {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, 0)
  syncProtocol.writeSyncStep1(encoder, new Y.Doc())
  return encoding.toUint8Array(encoder)
}

/**
 * One poll of a fresh reader, on one new raw socket: it waits for the state vector the server
 * sends on connect (its sync step 1); if that does not cover the provider's (`covers`), it closes
 * (`text` undefined); if it does, it sends sync step 1 with an empty state vector on the same
 * socket and decodes the server's step 2 into a new doc. Update frames the server forwards
 * meanwhile are ignored: only the step 2 answer is read. `vectorAt` / `answeredAt`: when each came
 * (performance.now()). The wait is long: a connect queues behind every frame the server has not
 * processed yet.
 */
const pollOnce = ({ url, protocols }, covers) =>
  new Promise((resolve, reject) => {
    const socket = new WebSocket(url, protocols, { perMessageDeflate: false })
    socket.binaryType = "arraybuffer"
    let vectorAt
    const finish = (outcome) => {
      clearTimeout(timer)
      socket.close(1000, "done")
      resolve({ vectorAt, ...outcome })
    }
    const timer = setTimeout(() => {
      socket.terminate()
      reject(new Error(`no sync answer in 10 min: ${url}`))
    }, 600_000)
    socket.on("message", (data) => {
      const decoder = decoding.createDecoder(new Uint8Array(data))
      if (decoding.readVarUint(decoder) !== 0) return
      const step = decoding.readVarUint(decoder)
      if (step === syncProtocol.messageYjsSyncStep1 && vectorAt === undefined) {
        vectorAt = performance.now()
        if (!covers(Y.decodeStateVector(decoding.readVarUint8Array(decoder)))) return finish({ text: undefined })
        socket.send(emptyStep1())
      } else if (step === syncProtocol.messageYjsSyncStep2 && vectorAt !== undefined) {
        const doc = new Y.Doc()
        Y.applyUpdate(doc, decoding.readVarUint8Array(decoder))
        const text = doc.getText("content").toString()
        doc.destroy()
        finish({ text, answeredAt: performance.now() })
      }
    })
    socket.on("error", (error) => {
      clearTimeout(timer)
      reject(error)
    })
  })

const run = async ({ server, quick, log }, cell) => {
  const { edits: all, startContent } = loadNamedTrace(cell.params.trace)
  const count = Math.min(all.length, quick ? Math.min(cell.params.edits, 2000) : cell.params.edits)
  const id = `yjs-ingest-${cell.params.slug}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`
  const endpoint = await providerEndpoint(server, cell, id)
  const readerEndpoint = await targets[cell.target].endpoint(server, id, "reader", "viewer")
  const doc = new Y.Doc()
  const text = doc.getText("content")
  const provider = new WebsocketProvider(endpoint.serverUrl, endpoint.roomName, doc, {
    WebSocketPolyfill: PlainWebSocket,
    protocols: endpoint.protocols,
    params: endpoint.params,
    disableBc: true,
  })
  try {
    if (!(await waitFor(() => provider.synced, 30_000))) throw new Error("provider did not sync")
    if (startContent.length > 0) text.insert(0, startContent)
    const cpuBefore = await server.cpuMs()
    const started = performance.now()
    for (let index = 0; index < count; index++) {
      applyEdit(text, all[index]) // one transaction per edit: one update message each
      if (index % YIELD_EVERY === YIELD_EVERY - 1) await new Promise((resolve) => setImmediate(resolve))
    }
    const expected = text.toString()
    const socket = provider.ws
    await waitFor(() => socket === null || socket.bufferedAmount === 0, 600_000)
    const sentMs = performance.now() - started
    // The provider's structs, per client: a server whose state vector covers it may have the final text.
    const expectedVector = Y.decodeStateVector(Y.encodeStateVector(doc))
    const covers = (vector) => [...expectedVector].every(([client, clock]) => (vector.get(client) ?? 0) >= clock)
    let reads = 0
    let probes = 0
    // Each poll's connect, state vector and (when it covered) step 2, in ms from the first edit:
    // where the time after the last frame goes.
    const timeline = [`last frame ${sentMs.toFixed(0)}`]
    const since = (at) => (at - started).toFixed(0)
    for (;;) {
      probes++
      const asked = performance.now()
      const poll = await pollOnce(readerEndpoint, covers)
      if (poll.answeredAt === undefined) timeline.push(`poll ${since(asked)}-${since(poll.vectorAt)} (behind)`)
      else {
        reads++
        timeline.push(`poll ${since(asked)}-${since(poll.vectorAt)}-${since(poll.answeredAt)}${poll.text === expected ? "" : " (not final)"}`)
        if (poll.text === expected) break
      }
      if (performance.now() - started > 900_000) throw new Error("reader never saw the final text")
      await sleep(POLL_MS)
    }
    const ingestMs = performance.now() - started
    await sleep(200)
    const cpuMs = (await server.cpuMs()) - cpuBefore
    const storage = await targets[cell.target].storage(server, id)
    log(`${count} edits: sent in ${sentMs.toFixed(0)} ms, read back after ${ingestMs.toFixed(0)} ms (${probes} probes, ${reads} reads; ${timeline.join(", ")}); ${JSON.stringify(storage)}`)
    return { ingestMs, sentMs, cpuUsPerEdit: (cpuMs * 1000) / count, reads, probes, writtenBytes: storage.writtenBytes, writtenRows: storage.writtenRows, ...(storage.receivedBytes ? { writeAmplification: storage.writtenBytes / storage.receivedBytes } : {}), edits: count }
  } finally {
    provider.destroy()
    doc.destroy()
  }
}

const traces = [
  { trace: "automerge-paper", edits: 20_000, group: "automerge-paper, first 20,000 edits", slug: "ap20k" },
  { trace: "friendsforever_flat", edits: Infinity, group: "friendsforever_flat, whole trace", slug: "ff" },
]
// The whole automerge-paper trace (259,778 edits, ~30-60 s per cell on the shared machine); BENCH_YJS_INGEST_WHOLE=0 leaves it out.
// Its apply-and-forward floor commits once per frame (~260,000 commits, ~10 min): left out of that trace.
if (process.env.BENCH_YJS_INGEST_WHOLE !== "0") traces.push({ trace: "automerge-paper", edits: Infinity, group: "automerge-paper, whole trace", slug: "apall", skip: ["floor"] })

// Development filters: BENCH_YJS_INGEST_ONLY=library,peer (targets), BENCH_YJS_INGEST_TRACE=ap20k|ff|apall.
const only = process.env.BENCH_YJS_INGEST_ONLY?.split(",")
const traceOnly = process.env.BENCH_YJS_INGEST_TRACE

export default {
  name: "yjs-ingest",
  title: "Yjs ingest: a real trace through one y-websocket provider, read back by a fresh reader",
  description: [
    "One stock `y-websocket` `WebsocketProvider` (Node, `ws`, no deflate) sends a trace from `../shared/traces/` one edit per transaction (one update message each) as fast as it can (yielding to the event loop every 500 edits).",
    `When the last edit has left the provider, a reader polls every ${POLL_MS} ms: a new raw socket reads the state vector the server sends on connect (its sync step 1) and, if that covers the provider's, sends sync step 1 with an empty state vector on the same socket and decodes the server's sync step 2 (else it closes); the clock (from the first edit) stops when that text equals the provider's. The reader never applies the live stream, and asks for the whole document only when the server may have it all (whole-document reads of a 311 KB document while the server was still ingesting were work the reader caused).`,
    "The ratio column divides by y-partyserver (the peer the target is set against). Targets: this library's CRDT room (every update validated and durable before anything it causes is visible), y-partyserver (hibernating, its documented SQLite `onSave`, debounced 1-10 s), the apply-and-store floor (apply, INSERT, forward; no validation), and the apply-only floor (apply in memory, nothing stored or forwarded: what receiving and applying one frame costs, transport included; not durable, for reference). The whole automerge-paper trace runs too (without the apply-and-forward floor, which commits once per frame); `BENCH_YJS_INGEST_WHOLE=0` leaves it out.",
  ].join("\n\n"),
  primary: { key: "ingestMs", label: "ms until a fresh reader has the final text", short: "ingest ms" },
  columns: [
    { key: "sentMs", label: "ms to send" },
    { key: "cpuUsPerEdit", label: "workerd CPU µs per edit" },
    { key: "writtenBytes", label: "bytes written" },
    { key: "writeAmplification", label: "written ÷ update bytes received" },
    { key: "probes", label: "reader polls (state vector)" },
    { key: "reads", label: "whole-document reads" },
  ],
  runs: 3,
  timeoutMs: 900_000,
  cells: () =>
    traces.flatMap(({ group, skip = [], ...params }) =>
      [
        [LIBRARY, "library"],
        [PEER, "peer"],
        [FLOOR, "floor"],
        [MEMORY_FLOOR, "memory"],
      ]
        .filter(([, slug]) => (only === undefined || only.includes(slug)) && !skip.includes(slug))
        .map(([target, slug]) => ({ group, target, floor: PEER, params: { ...params, slug: `${params.slug}-${slug}` } })),
    ).filter((cell) => traceOnly === undefined || cell.params.slug.startsWith(traceOnly)),
  run,
}
