// A new client joining a large document: the whole automerge-paper trace (259,778 edits, 104,852
// characters, 311 KB as one Yjs update) is loaded into each target once per server, then each run
// times fresh clients joining it one after another.
import { sleep } from "../harness/load.mjs"
import { latencyHistogram } from "../harness/stats.mjs"
import { connectYjs } from "./yjs/client.mjs"
import { FLOOR, LIBRARY, PEER, targets } from "./yjs/targets.mjs"
import { loadTrace, replayLocally } from "./yjs/trace.mjs"
import * as Y from "yjs"
import * as encoding from "lib0/encoding"
import * as syncProtocol from "y-protocols/sync"

let fullState // the trace replayed locally once per process: one update holding the whole document
const fullDocument = () => {
  if (fullState === undefined) fullState = Y.encodeStateAsUpdate(replayLocally(Infinity))
  return fullState
}

const loaded = new Map() // `${server.url} ${target}` -> document id, loaded once per server

/** Join `id` as a fresh client; resolves when its text equals the whole trace's end. */
const join = async (endpoint, expected) => {
  const started = performance.now()
  const client = await connectYjs(endpoint)
  const text = client.doc.getText("content")
  while (text.length !== expected.length || text.toString() !== expected) await sleep(1)
  const ms = performance.now() - started
  const bytes = client.stats.bytes
  await client.close()
  return { ms, bytes }
}

/** Send the whole document as one y-websocket update message, and wait until a joiner sees it. */
const loadDocument = async (server, target, id, expected) => {
  const loader = await connectYjs(await target.endpoint(server, id, "loader", "editor"))
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, 0)
  syncProtocol.writeUpdate(encoder, fullDocument())
  loader.send(encoding.toUint8Array(encoder))
  await join(await target.endpoint(server, id, "checker", "viewer"), expected)
  await loader.close()
}

const JOINS = 20

const run = async ({ server, quick, log }, cell) => {
  const target = targets[cell.target]
  const expected = loadTrace().endContent
  const key = `${server.url} ${cell.target}`
  if (!loaded.has(key)) {
    const id = `yjs-join-${cell.params.slug}-${Date.now()}`
    const started = performance.now()
    await loadDocument(server, target, id, expected)
    log(`loaded ${fullDocument().byteLength} bytes in ${(performance.now() - started).toFixed(0)} ms`)
    loaded.set(key, id)
  }
  const id = loaded.get(key)
  const joins = quick ? 5 : JOINS
  // Grants (library) are fetched before the measured phase: joining is socket open to synced.
  const endpoints = []
  for (let index = 0; index <= joins; index++) endpoints.push(await target.endpoint(server, id, `joiner-${index}`, "viewer"))
  await join(endpoints[0], expected) // warm: the object is awake and its doc in memory

  const latency = latencyHistogram()
  let bytes = 0
  const cpuBefore = await server.cpuMs()
  for (let index = 1; index <= joins; index++) {
    const result = await join(endpoints[index], expected)
    latency.record(result.ms)
    bytes += result.bytes
  }
  await sleep(200)
  const cpuMs = (await server.cpuMs()) - cpuBefore
  return {
    cpuMsPerJoin: cpuMs / joins,
    p50Ms: latency.percentileMs(50),
    maxMs: latency.maxMs(),
    kBReceivedPerJoin: bytes / joins / 1024,
  }
}

export default {
  name: "yjs-join",
  title: "A new client joining a large Yjs document",
  description: [
    "Each target is loaded once per server with the whole `automerge-paper` trace (replayed locally in Node, sent as one 311 KB y-websocket update; 104,852 characters).",
    `Each run: one unmeasured warm join, then ${JOINS} fresh clients (5 with \`--quick\`) join one after another over y-websocket; a join runs from creating the socket until the client's text equals the trace's \`endContent\`, then the client closes.`,
    "CPU: workerd CPU across the measured joins ÷ joins (library grants are fetched before). Bytes: everything the joining client received until synced.",
  ].join("\n\n"),
  primary: { key: "cpuMsPerJoin", label: "workerd CPU ms per join", short: "CPU/join" },
  columns: [
    { key: "p50Ms", label: "socket-to-synced p50 ms" },
    { key: "maxMs", label: "max ms" },
    { key: "kBReceivedPerJoin", label: "KiB received per join" },
  ],
  timeoutMs: 180_000,
  cells: () =>
    [
      [LIBRARY, "library"],
      [FLOOR, "floor"],
      [PEER, "peer"],
    ].map(([target, slug]) => ({ group: "whole trace (311 KB update)", target, floor: FLOOR, params: { slug } })),
  run,
}
