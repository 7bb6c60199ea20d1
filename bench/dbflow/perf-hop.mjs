// Where one database write's workerd CPU goes, by kind of work, from what bench/tools/perf-workload.mjs
// leaves behind (perf data of the bench server's workerd, JIT frames named by bundle line). Every
// sample of the Worker's thread (the Worker and all its Durable Objects share it under wrangler dev)
// goes to one bucket: a SQLite commit when any frame of it commits (WAL write + fsync: one per
// turn that wrote, counted in the process's CPU here), else the innermost frame that names a kind
// of work (statement, V8 serializer, RPC client or server, socket send, GC, a JavaScript module).
// For the two-hop decomposition in bench/notes/db.md. Development tool.
//
//   node bench/tools/perf-workload.mjs db "durable-realtime db" 2 writer=worker rate=100 durationMs=5000 subscribers=1
//   node bench/dbflow/perf-hop.mjs /tmp/perf-db.data /tmp/perf-db-bundle 1000     (writes measured = runs × rate × s)
import { readFileSync, readdirSync } from "node:fs"
import { join } from "node:path"
import { bundleModules } from "../tools/bundleModules.mjs"
import { readPerfSamples, workerThreadOf } from "../tools/lib/perfSamples.mjs"

const [data, bundleDir, writesArg] = process.argv.slice(2)
if (writesArg === undefined) throw new Error("usage: node bench/dbflow/perf-hop.mjs <perf.data> <bundle dir> <writes measured>")
const HZ = 2000
const writes = Number(writesArg)
const dir = readdirSync(bundleDir).find((name) => name.startsWith("dev-"))
const moduleOf = bundleModules(readFileSync(join(bundleDir, dir, "worker.js"), "utf8"), { firstLine: 1 })

/** Native frames by kind, checked innermost first (the first frame that matches names the sample). */
const nativeKinds = [
  [/ValueSerializer|ValueDeserializer|Serializer::|Deserializer::|jsg::Serializer|jsg::Deserializer/, "V8 serializer (RPC arguments and answers)"],
  [/sqlite3|SqliteDatabase|SqlStorage|ActorSqlite/, "SQLite statements (exec, step, cursor)"],
  [/WebSocket::send|WebSocket::/, "WebSocket send"],
  [/JsRpcProperty::call|JsRpcPromise|JsRpcStub|GlobalActorOutgoingFactory|Fetcher::|getClientForOneCall|callImpl.*JsRpcClientProvider/, "RPC: the call (caller side)"],
  [/JsRpcTargetBase|JsRpcSessionCustomEvent|EntrypointJsRpcTarget|JsRpcTarget/, "RPC: dispatch (callee side)"],
  [/capnp::|kj::_::|kj::|InputGate|OutputGate|IoContext/, "runtime: event loop, gates, capnp"],
  [/Heap::|Scavenger|MarkCompact|GCTracer|Sweeper|ConcurrentMarking/, "V8 GC"],
]
const committing = /sqlite3PagerCommitPhaseOne|vdbeCommit|pagerWalFrames|\bfsync\b|commitImplicitTxn/

const samples = readPerfSamples(data)
const worker = workerThreadOf(samples)

const kindOf = (frames) => {
  if (frames.some((frame) => committing.test(frame))) return "SQLite commit (WAL write + fsync)"
  for (const frame of frames) {
    const js = /JS:\S*\s+worker\.js:(\d+):\d+/.exec(frame)
    if (js !== null) {
      const module = moduleOf(Number(js[1]))
      if (module.startsWith("effect/")) return "JS: effect runtime"
      if (module.includes("src/")) return `JS: src/${module.split("src/")[1]}`
      return `JS: ${module}`
    }
    for (const [pattern, kind] of nativeKinds) if (pattern.test(frame)) return kind
  }
  return "other native"
}
const kinds = new Map()
let total = 0
for (const sample of samples) {
  if (sample.tid !== worker) continue
  total++
  const kind = kindOf(sample.frames)
  kinds.set(kind, (kinds.get(kind) ?? 0) + 1)
}
const perWrite = (count) => ((count * 1e6) / HZ / writes).toFixed(0).padStart(6)
console.log(`Worker thread ${worker}: ${total} samples = ${perWrite(total)} µs per write (${writes} writes); other threads ${perWrite(samples.length - total)} µs per write`)
for (const [kind, count] of [...kinds].sort((a, b) => b[1] - a[1])) console.log(`${perWrite(count)} µs  ${((100 * count) / total).toFixed(1).padStart(5)}%  ${kind}`)
