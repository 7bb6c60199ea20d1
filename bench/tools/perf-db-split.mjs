// Where a database write's CPU sits on the Worker's thread, library against floor: the samples that
// perf-workload.mjs recorded, each placed by its stack (under the Durable Object's JavaScript = the
// object's turn; under the Worker's JavaScript = burst loop, facade, call site, answer; no JavaScript
// frame = runtime, SQLite commit, I/O), then the Worker's share split into the RPC call and its own
// JavaScript, the per-call stub path, and the V8 (de)serialization of request and answer by side.
// Development tool for bench/notes/db.md (dbcall, session 9).
//
//   PERF_DATA=/tmp/perf-lib node bench/tools/perf-workload.mjs db "streamFrom: shard" 3 writer=worker rate=100 durationMs=5000 subscribers=1
//   node bench/tools/perf-db-split.mjs /tmp/perf-lib 1500      (the data's path, then the writes it covers: runs × rate × seconds)
import { readFileSync, readdirSync } from "node:fs"
import { join } from "node:path"
import { bundleModules } from "./bundleModules.mjs"
import { readPerfSamples, samplesPerThread, workerThreadOf } from "./lib/perfSamples.mjs"

const [data, writesArg] = process.argv.slice(2)
if (data === undefined || writesArg === undefined) throw new Error("usage: node bench/tools/perf-db-split.mjs <perf data> <writes>")
const HZ = 2000
const perWrite = (count) => ((count * 1e6) / HZ / Number(writesArg)).toFixed(1)
const bundleDir = `${data}-bundle`
const bundle = readFileSync(join(bundleDir, readdirSync(bundleDir).find((name) => name.startsWith("dev-")), "worker.js"), "utf8")
const lines = bundle.split("\n")
const moduleOf = bundleModules(bundle, { firstLine: 1 })
const samples = readPerfSamples(data)
const worker = workerThreadOf(samples, samplesPerThread(samples))

const OBJECT_MODULES = /durable\/ActorHost|DbShardObject|db\/shard|db\/hub|db\/Writes|dbflow\/floor|dbflow\/counted/
const WORKER_MODULES = /dbflow\/routes|db\/Database|db\/facade|internal\/rpc|PromiseFacade|ObjectStubs|db\/Ops|db\/Guards/
// Native work of the call itself when it sits right below the Worker's innermost JavaScript frame.
const RPC_CALL = /JsRpcProperty|ValueSerializer|ValueDeserializer|JsRpc|getClientForOneCall|WildcardProperty|CallNamedInterceptor/
const counts = new Map()
const add = (key, n = 1) => counts.set(key, (counts.get(key) ?? 0) + n)
const ownJs = new Map()
for (const sample of samples) {
  if (sample.tid !== worker) continue
  add("thread")
  const js = sample.frames.flatMap((frame, index) => {
    const match = /JS:(\S*)\s+worker\.js:(\d+):\d+/.exec(frame)
    return match === null ? [] : [{ index, line: Number(match[2]), module: moduleOf(Number(match[2])) }]
  })
  const inObject = js.some((frame) => OBJECT_MODULES.test(frame.module))
  const inWorker = !inObject && js.some((frame) => WORKER_MODULES.test(frame.module))
  add(inObject ? "the object's turn" : inWorker ? "the Worker's JavaScript, its RPC call included" : js.length > 0 ? "other JavaScript" : "no JavaScript frame")
  if (inWorker) {
    const below = sample.frames.slice(0, js[0].index)
    if (below.some((frame) => RPC_CALL.test(frame))) add("  of it: the RPC call (and the method's property read)")
    else {
      add("  of it: its own JavaScript")
      const key = `${js[0].module} ${lines[js[0].line - 1].trim().slice(0, 60)}`
      ownJs.set(key, (ownJs.get(key) ?? 0) + 1)
    }
  }
  const stack = sample.frames.join("\n")
  if (/getClientForOneCall|newActorCallAttempt|JsRpcSessionCustomEvent::run/.test(stack)) add("stub path per call (getClientForOneCall, newActorCallAttempt, JsRpcSessionCustomEvent::run)")
  const deserialize = sample.frames.findIndex((frame) => frame.includes("ValueDeserializer::"))
  if (deserialize >= 0) add(/resumeAfterIo<capnp::Response/.test(sample.frames.slice(deserialize).join(" ")) ? "answer deserialized (Worker)" : "request deserialized (object)")
  const serialize = sample.frames.findIndex((frame) => frame.includes("ValueSerializer::"))
  if (serialize >= 0) add(/JsRpcProperty::call/.test(sample.frames.slice(serialize).join(" ")) ? "request serialized (Worker)" : "answer serialized (object)")
  if (/JsonParser/.test(stack)) add("JSON.parse")
  else if (/JsonStringif/.test(stack)) add("JSON.stringify")
}
console.log(`Worker thread ${worker}, µs per write:`)
const order = ["thread", "the object's turn", "the Worker's JavaScript, its RPC call included", "  of it: the RPC call (and the method's property read)", "  of it: its own JavaScript", "no JavaScript frame", "other JavaScript"]
for (const key of [...order, ...[...counts.keys()].filter((key) => !order.includes(key))]) console.log(`${perWrite(counts.get(key) ?? 0).padStart(8)}  ${key}`)
console.log("\nthe Worker's own JavaScript by innermost frame (native work below it counted to it):")
for (const [key, count] of [...ownJs].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`${perWrite(count).padStart(8)}  ${key}`)
