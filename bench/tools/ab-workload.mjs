// Two source trees side by side on any workload: one bench server per tree, the chosen cells run
// alternately on each (which tree goes first alternates too), so both see the same machine in the
// same minutes. For before/after figures on a shared, noisy machine. Not part of `npm run bench`.
//
//   git archive <commit> | tar -x -C /tmp/before && ln -s "$PWD/node_modules" /tmp/before/node_modules
//   node bench/tools/ab-workload.mjs /tmp/before "$PWD" <workload> [rounds=6] [target substring ...]
//   e.g. node bench/tools/ab-workload.mjs /tmp/before "$PWD" yjs-join 8 "CRDT room" y-partyserver
//
// Without target substrings every cell of the workload runs. A workload with `runTogether` (its
// targets side by side, as `npm run bench` runs it) runs all chosen cells together once per tree and
// round, in both trees that have it. Prints one line per cell run (its primary figure and the load
// average), then the median per tree and target, each round's ratio B ÷ A per target, and each
// round's ratio of a target to its floor per tree (where the floor ran too).
import { loadavg } from "node:os"
import { median } from "../harness/stats.mjs"
import { alternate, closeTrees, openTrees } from "./lib/interleave.mjs"

const [a, b, workloadName, roundsArg = "6", ...targetParts] = process.argv.slice(2)
if (a === undefined || b === undefined || workloadName === undefined)
  throw new Error("usage: node bench/tools/ab-workload.mjs <tree-a> <tree-b> <workload> [rounds] [target substring ...]")
const rounds = Number(roundsArg)

const trees = await openTrees([a, b], async (tree) => {
  const { workloads } = await import(`${tree}/bench/workloads/index.mjs`)
  const workload = workloads.find((candidate) => candidate.name === workloadName)
  if (workload === undefined) throw new Error(`${tree}: no workload ${workloadName}`)
  const cells = workload
    .cells({ quick: false })
    .filter((cell) => targetParts.length === 0 || targetParts.some((part) => cell.target.includes(part)))
  return { workload, cells }
})
const figures = new Map() // `${label} ${target}` -> primary figure per round
try {
  const together = trees.every((tree) => tree.workload.runTogether !== undefined)
  // A step: one cell (its index), or every chosen cell at once ("all").
  const steps = together ? ["all"] : trees[0].cells.map((_, index) => index)
  await alternate(trees, rounds, steps, async (tree, step, run) => {
    const context = { server: tree.server, run, quick: false, log: () => {} }
    const indices = step === "all" ? tree.cells.map((_, index) => index) : [step]
    const results = step === "all" ? await tree.workload.runTogether(context, tree.cells) : [await tree.workload.run(context, tree.cells[step])]
    for (const [position, index] of indices.entries()) {
      const cell = tree.cells[index]
      const value = results[position][tree.workload.primary.key]
      const key = `${tree.label} ${cell.target}`
      figures.set(key, [...(figures.get(key) ?? []), value])
      console.log(JSON.stringify({ run, tree: tree.label, target: cell.target, [tree.workload.primary.key]: value, load: loadavg()[0].toFixed(2) }))
    }
  })
  console.log(`A = ${a}\nB = ${b}\n${trees[0].workload.primary.label}, medians of ${rounds} rounds:`)
  for (const [key, values] of figures) console.log(`  ${key}: ${median(values)}  (${values.join(" / ")})`)
  for (const cell of trees[0].cells) {
    const before = figures.get(`A ${cell.target}`)
    const after = figures.get(`B ${cell.target}`)
    console.log(
      `  B ÷ A ${cell.target}: ratio of medians ${(median(after) / median(before)).toFixed(2)}, per round ${after.map((value, round) => (value / before[round]).toFixed(2)).join(" / ")}`,
    )
  }
  // Within a tree a target and its floor ran in the same round (side by side with runTogether): the steadiest comparison.
  for (const tree of trees) {
    for (const cell of tree.cells) {
      const floor = figures.get(`${tree.label} ${cell.floor}`)
      if (cell.floor === cell.target || floor === undefined) continue
      const ratios = figures.get(`${tree.label} ${cell.target}`).map((value, round) => value / floor[round])
      console.log(`  ${tree.label} ${cell.target} ÷ ${cell.floor}: per round ${ratios.map((ratio) => ratio.toFixed(2)).join(" / ")}, median ${median(ratios).toFixed(2)}`)
    }
  }
} finally {
  await closeTrees(trees)
}
process.exit(0)
