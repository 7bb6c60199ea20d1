// How long a cell must be for its figure to settle: runs a workload's cells at several lengths
// (one parameter overridden, e.g. durationMs) on one bench server, after one unmeasured warm-up of
// every cell; each run goes through every value (the first value rotating by run), so the values
// see the same minutes. Prints, per value and target, the primary figure's median, its run-to-run
// spread (coefficient of variation, and (max - min) / median), and each run's ratio to the cell's
// floor with the ratios' spread. A workload with `runTogether` (its targets side by side in one
// run) runs that way, unless `--one-by-one` is given (then its `run`, cell after cell). The
// parameter `mode` with values `together,one-by-one` compares the two ways themselves.
// Development tool for choosing cell sizes (bench/README.md "Targets side by side"); not part of `npm run bench`.
//
//   node bench/tools/cell-spread.mjs <workload> <param> <value,value,...> [runs=6] [group substring] [target substring ...] [--one-by-one]
//   e.g. node bench/tools/cell-spread.mjs receive-one durationMs 4000,12000 6 --one-by-one
//        node bench/tools/cell-spread.mjs receive-one rounds 8,16 6
//        node bench/tools/cell-spread.mjs db durationMs 3000,9000 5 "inside the Worker"
//        node bench/tools/cell-spread.mjs publish mode together,one-by-one 4
import { loadavg } from "node:os"
import { startBenchServer } from "../harness/server.mjs"
import { median } from "../harness/stats.mjs"
import { workloads } from "../workloads/index.mjs"

const oneByOne = process.argv.includes("--one-by-one")
const [workloadName, param, valuesArg, runsArg = "6", groupPart = "", ...targetParts] = process.argv.slice(2).filter((arg) => arg !== "--one-by-one")
const workload = workloads.find((candidate) => candidate.name === workloadName)
if (workload === undefined || param === undefined || valuesArg === undefined)
  throw new Error("usage: node bench/tools/cell-spread.mjs <workload> <param> <value,value,...> [runs] [group substring] [target substring ...]")
const values = valuesArg.split(",").map((value) => (Number.isNaN(Number(value)) ? value : Number(value)))
const runs = Number(runsArg)
const cells = workload
  .cells({ quick: false })
  .filter((cell) => cell.group.includes(groupPart) && (targetParts.length === 0 || targetParts.some((part) => cell.target.includes(part))))
if (cells.length === 0) throw new Error(`no cell of ${workloadName} in group "${groupPart}" with those targets`)
const key = workload.primary.key
const withParam = (cell, value) => (param === "mode" ? cell : { ...cell, params: { ...cell.params, [param]: value } })

const spreadOf = (figures) => {
  const mean = figures.reduce((sum, value) => sum + value, 0) / figures.length
  const deviation = Math.sqrt(figures.reduce((sum, value) => sum + (value - mean) ** 2, 0) / (figures.length - 1))
  const middle = median(figures)
  return { median: middle, cv: deviation / mean, range: (Math.max(...figures) - Math.min(...figures)) / middle }
}
const percent = (fraction) => `${(fraction * 100).toFixed(1)}%`

const server = await startBenchServer()
try {
  const togetherFor = (value) => workload.runTogether !== undefined && (param === "mode" ? value === "together" : !oneByOne)
  /** Every cell once, in order: figures per cell. */
  const runAll = async (run, value) => {
    const context = { server, quick: false, run, log: () => {} }
    const list = cells.map((cell) => withParam(cell, value))
    if (togetherFor(value)) return workload.runTogether(context, list)
    const figures = []
    for (const cell of list) figures.push(await workload.run(context, cell))
    return figures
  }
  for (const value of values) await runAll(0, value)
  for (const value of values) console.log(`${param} = ${value}: ${togetherFor(value) ? "targets side by side (runTogether)" : "cells one by one"}`)
  const byValue = new Map(values.map((value) => [value, { figures: new Map(cells.map((cell) => [cell.target, []])), loads: [] }]))
  for (let run = 1; run <= runs; run++) {
    for (let turn = 0; turn < values.length; turn++) {
      const value = values[(run - 1 + turn) % values.length]
      const { figures, loads } = byValue.get(value)
      const results = await runAll(run, value)
      for (const [index, cell] of cells.entries()) {
        const result = results[index]
        figures.get(cell.target).push(result[key])
        loads.push(loadavg()[0])
        console.log(JSON.stringify({ [param]: value, run, target: cell.target, [key]: result[key], load: loadavg()[0].toFixed(2) }))
      }
    }
  }
  for (const [value, { figures, loads }] of byValue) {
    console.log(`${param} = ${value}, ${runs} runs, load ${Math.min(...loads).toFixed(2)}-${Math.max(...loads).toFixed(2)}; ${workload.primary.label}:`)
    for (const cell of cells) {
      const own = spreadOf(figures.get(cell.target))
      const line = `  ${cell.target}: median ${own.median.toFixed(1)}, cv ${percent(own.cv)}, (max-min)/median ${percent(own.range)}`
      const floor = figures.get(cell.floor)
      if (cell.floor === cell.target || floor === undefined) {
        console.log(line)
        continue
      }
      const ratios = figures.get(cell.target).map((figure, run) => figure / floor[run])
      const ratio = spreadOf(ratios)
      console.log(`${line}; ÷ ${cell.floor} per run ${ratios.map((r) => r.toFixed(2)).join(" / ")}, median ${ratio.median.toFixed(2)}, cv ${percent(ratio.cv)}`)
    }
  }
} finally {
  await server.stop()
}
process.exit(0)
