// `npm run bench [-- <workload> ...] [--runs N] [--quick]`: start the benchmark Worker on wrangler
// dev, run each workload's cells `runs` times (interleaved, so drift hits every target alike),
// and write bench/results.json and the generated part of BENCHMARKS.md.
import { cpus, totalmem, loadavg, release } from "node:os"
import { readFileSync, writeFileSync, existsSync } from "node:fs"
import { join } from "node:path"
import { workloads } from "./workloads/index.mjs"
import { startBenchServer } from "./harness/server.mjs"
import { summarize } from "./harness/stats.mjs"
import { writeReport } from "./report.mjs"

const args = process.argv.slice(2)
const flag = (name) => {
  const index = args.indexOf(name)
  return index === -1 ? undefined : args[index + 1]
}
const quick = args.includes("--quick")
// One unmeasured warm-up round per workload (see bench/README.md "Warm-up"); --quick is a check, not figures, so it has none.
const warmup = !quick && !args.includes("--no-warmup")
const runsFlag = flag("--runs")
const runs = Number(runsFlag ?? (quick ? 1 : 5))
// A workload may ask for fewer runs by default (`runs` in its module); --runs and --quick override it.
const runsFor = (workload) => (runsFlag !== undefined || quick ? runs : (workload.runs ?? runs))
const named = args.filter((arg, index) => !arg.startsWith("--") && args[index - 1] !== "--runs")
const unknown = named.filter((name) => !workloads.some((workload) => workload.name === name))
if (unknown.length > 0) {
  console.error(`unknown workload(s): ${unknown.join(", ")}; known: ${workloads.map((workload) => workload.name).join(", ")}`)
  process.exit(2)
}
const selected = named.length === 0 ? workloads.filter((workload) => !workload.hidden) : workloads.filter((workload) => named.includes(workload.name))

// BENCH_RESULTS: another results file, for a second run beside the first (merge with `npm run bench:report -- <file>...`).
const resultsPath = process.env.BENCH_RESULTS ?? join(import.meta.dirname, "results.json")
const previous = existsSync(resultsPath) ? JSON.parse(readFileSync(resultsPath, "utf8")) : { workloads: {} }
const workerdVersion = JSON.parse(readFileSync(join(import.meta.dirname, "..", "node_modules", "workerd", "package.json"), "utf8")).version
const machine = {
  cpu: cpus()[0]?.model ?? "unknown",
  cores: cpus().length,
  memoryGiB: Math.round(totalmem() / 2 ** 30),
  kernel: release(),
  node: process.version,
  workerd: workerdVersion,
  loadAverageAtStart: loadavg()[0].toFixed(2),
}

const log = (line) => console.log(`[bench] ${line}`)
const deadline = (ms, what) =>
  new Promise((_, reject) => setTimeout(() => reject(new Error(`${what} did not finish in ${ms / 1000} s`)), ms).unref())

const server = await startBenchServer()
log(`benchmark Worker on ${server.url}; ${runsFlag !== undefined || quick ? runs : `${runs} (or the workload's own \`runs\`)`} run(s) per cell${quick ? " (quick)" : ""}`)
const results = { ...previous, machine, workloads: { ...previous.workloads } }
let failed = false
// The ns clock against the tick one over each whole cell (connect to close): they must agree within
// a tick per workerd process, and no thread may exit unseen, or the ns figures are not whole.
const clockCheck = { cells: 0, worstGapMs: 0, exitedThreads: 0, source: undefined }
const checkClock = (before, after, what) => {
  const nsMs = after.cpuMs - before.cpuMs
  const tickMs = after.tickCpuMs - before.tickCpuMs
  clockCheck.cells++
  clockCheck.source = after.source
  clockCheck.exitedThreads = after.exitedThreads
  clockCheck.worstGapMs = Math.max(clockCheck.worstGapMs, Math.abs(nsMs - tickMs))
  const exited = after.exitedThreads - before.exitedThreads
  // Each process's tick count is truncated to 10 ms at both reads.
  const disagrees = Math.abs(nsMs - tickMs) > 10 * after.processes
  log(
    `${what}: cpu clock ${after.source} +${nsMs.toFixed(2)} ms, ticks +${tickMs} ms, ${after.processes} processes, ${after.threads} threads` +
      `${exited > 0 ? `, ${exited} EXITED (their last run is lost)` : ""}${disagrees ? ", DISAGREES with the ticks by more than 10 ms per process" : ""}`,
  )
}
try {
  for (const workload of selected) {
    const cells = workload.cells({ quick })
    const perCell = cells.map(() => [])
    const runs = runsFor(workload)
    const warmed = warmup && workload.warmup !== false
    // A step runs one cell, or every cell at once for a workload that measures its targets side by
    // side (`runTogether`, bench/README.md); it returns one figures object per cell it ran.
    const stepsOf = (list) =>
      workload.runTogether === undefined
        ? list.map((cell, index) => ({ indices: [index], what: `${cell.group} | ${cell.target}`, run: async (context) => [await workload.run(context, cell)] }))
        : [{ indices: list.map((_, index) => index), what: "every cell of the run together (runTogether)", run: (context) => workload.runTogether(context, list) }]
    const contextFor = (what, run, quickRun) => ({ server, quick: quickRun, run, log: (line) => log(`${workload.name} ${what}${run === 0 ? " (warm-up)" : ""}: ${line}`) })
    const timed = (promise, what) => Promise.race([promise, deadline(workload.timeoutMs ?? 180_000, `${workload.name} ${what}`)])
    // Each cell once at its --quick size, run 0, before any measured run: the first run of a
    // workload ran its code cold (the first receive-one run read 1.44-1.91x where the others read
    // 0.94-1.30x), so without it run 1 is an outlier of one target or another.
    if (warmed) {
      for (const step of stepsOf(workload.cells({ quick: true }))) {
        try {
          await timed(step.run(contextFor(step.what, 0, true)), `${step.what} warm-up`)
          log(`${workload.name} | ${step.what} | warm-up (quick size, not measured)`)
        } catch (error) {
          // Not a figure: a failing cell fails again in its measured runs, where it counts.
          log(`${workload.name} | ${step.what} | warm-up failed (not measured): ${error instanceof Error ? error.message : error}`)
        }
      }
    }
    for (let run = 1; run <= runs; run++) {
      for (const step of stepsOf(cells)) {
        const clockBefore = await server.cpuSample()
        try {
          const figures = await timed(step.run(contextFor(step.what, run, quick)), step.what)
          for (const [position, index] of step.indices.entries()) {
            perCell[index].push(figures[position])
            log(`${workload.name} | ${cells[index].group} | ${cells[index].target} | run ${run}/${runs} | ${JSON.stringify(figures[position])}`)
          }
        } catch (error) {
          failed = true
          log(`${workload.name} | ${step.what} | run ${run}/${runs} FAILED: ${error instanceof Error ? error.stack : error}`)
          for (const index of step.indices) perCell[index].push({ failed: 1 })
        }
        checkClock(clockBefore, await server.cpuSample(), `${workload.name} | ${step.what} | run ${run}`)
      }
    }
    results.workloads[workload.name] = {
      command: `npm run bench -- ${workload.name}${runs === 5 ? "" : ` --runs ${runs}`}`,
      ranAt: new Date().toISOString(),
      machine,
      runs,
      warmup: warmed ? "every cell once at its --quick size, unmeasured, before run 1" : "none",
      cells: cells.map((cell, index) => ({ ...cell, params: undefined, runs: perCell[index], summary: summarize(perCell[index]) })),
    }
    writeFileSync(resultsPath, `${JSON.stringify(results, null, 2)}\n`)
  }
} finally {
  await server.stop()
}
log(
  `cpu clock (${clockCheck.source}) over ${clockCheck.cells} cells: worst gap to the tick reading ${clockCheck.worstGapMs.toFixed(2)} ms, ${clockCheck.exitedThreads} workerd threads exited`,
)
// A BENCH_RESULTS file is a side run: BENCHMARKS.md stays as the main results.json made it.
if (process.env.BENCH_RESULTS === undefined) writeReport(results)
log(`wrote ${process.env.BENCH_RESULTS === undefined ? "bench/results.json and BENCHMARKS.md" : resultsPath}${failed ? " (some runs FAILED; see above)" : ""}`)
process.exit(failed ? 1 : 0)
