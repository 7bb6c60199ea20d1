// Reading a `perf record -g` file of the bench server's workerd: its samples, and which thread ran the
// Worker's JavaScript. Shared by the perf tools (bench/tools/perf-workload.mjs, bench/dbflow/perf-hop.mjs).
import { execFileSync } from "node:child_process"

/** Samples as `perf script` prints them: a "tid" line, then one frame per line, innermost first (each frame without its address). */
export const readPerfSamples = (data) => {
  const script = execFileSync("perf", ["script", "-i", data, "-F", "tid,ip,sym"], { maxBuffer: 1 << 30, encoding: "utf8" })
  const samples = []
  for (const line of script.split("\n")) {
    const head = /^\s*(\d+)(?:\/\d+)?\s*$/.exec(line)
    if (head !== null) samples.push({ tid: Number(head[1]), frames: [] })
    else if (line.trim() !== "" && samples.length > 0) samples.at(-1).frames.push(line.trim().split(/\s+/).slice(1).join(" "))
  }
  return samples
}

/** Samples per thread id. */
export const samplesPerThread = (samples) => {
  const byThread = new Map()
  for (const sample of samples) byThread.set(sample.tid, (byThread.get(sample.tid) ?? 0) + 1)
  return byThread
}

/** The Worker's main thread: the thread with the most samples that ran the bundle (`worker.js` frames). */
export const workerThreadOf = (samples, byThread = samplesPerThread(samples)) =>
  [...byThread.keys()]
    .filter((tid) => samples.some((sample) => sample.tid === tid && sample.frames.some((frame) => frame.includes("worker.js"))))
    .sort((a, b) => byThread.get(b) - byThread.get(a))[0]
