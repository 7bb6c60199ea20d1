// CPU µs per frame spent inside (inclusive) a few functions of the socket hot path, from what
// perf-workload.mjs leaves behind (its perf data and the bundle copy its frames name). For A/B of a
// change to one step of the receive path, where the cell's whole CPU swings ±30 µs between runs of
// the same code but the samples under one function move only with that function. Development tool.
//
//   node bench/tools/perf-workload.mjs receive-one "durable-realtime room" 4
//   node bench/tools/perf-functions.mjs /tmp/perf-receive-one.data /tmp/perf-receive-one-bundle 3200
// (the last argument: frames measured = runs × 800; perf-workload records at 2,000 Hz)
import { execFileSync } from "node:child_process"
import { readFileSync, readdirSync } from "node:fs"

const [data, bundleDir, framesArg] = process.argv.slice(2)
const HZ = 2000
const dir = readdirSync(bundleDir).find((name) => name.startsWith("dev-"))
const lines = readFileSync(`${bundleDir}/${dir}/worker.js`, "utf8").split("\n")
/** The 1-based bundle line of the first line matching `pattern` after line `after` (perf maps name functions by line). */
const lineOf = (pattern, after = 0) => {
  for (let index = after; index < lines.length; index++) if (pattern.test(lines[index])) return index + 1
  return -1
}
const liveFrames = lineOf(/^\/\/ \.\.\/src\/actors\/live\/LiveFrames\.ts$/)
const functions = {
  webSocketMessage: lineOf(/^ {2}webSocketMessage\(socket/),
  admit: lineOf(/const admit = /),
  decode: lineOf(/^var decode\d* = .*\(message\d*\) => \{/, liveFrames),
  handleNow: lineOf(/const handleNow = /, liveFrames),
  "Connections.broadcast": lineOf(/^ {4}broadcast: .*\(frame, except\) => \{/),
}
const script = execFileSync("perf", ["script", "-i", data, "-F", "tid,ip,sym"], { maxBuffer: 1 << 30, encoding: "utf8" })
const samples = []
for (const line of script.split("\n")) {
  const head = /^\s*(\d+)(?:\/\d+)?\s*$/.exec(line)
  if (head !== null) samples.push([])
  else if (line.trim() !== "" && samples.length > 0) samples.at(-1).push(line.trim())
}
const counts = new Map([...Object.keys(functions), "JSON.parse (in webSocketMessage)", "JSON.stringify (in webSocketMessage)"].map((name) => [name, 0]))
for (const frames of samples) {
  const onStack = new Set(frames.map((frame) => Number(/worker\.js:(\d+):/.exec(frame)?.[1])))
  for (const [name, line] of Object.entries(functions)) if (onStack.has(line)) counts.set(name, counts.get(name) + 1)
  if (!onStack.has(functions.webSocketMessage)) continue
  if (frames.some((frame) => frame.includes("Builtin_JsonParse"))) counts.set("JSON.parse (in webSocketMessage)", counts.get("JSON.parse (in webSocketMessage)") + 1)
  if (frames.some((frame) => frame.includes("Builtin_JsonStringify"))) counts.set("JSON.stringify (in webSocketMessage)", counts.get("JSON.stringify (in webSocketMessage)") + 1)
}
for (const [name, count] of counts) console.log(`${((count * 1e6) / HZ / Number(framesArg)).toFixed(1).padStart(7)} µs/frame  ${name}`)
