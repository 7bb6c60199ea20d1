// Two source trees side by side for the `publish` workload: one bench server per tree (the default
// harness, bench/harness/server.mjs), the library pass and the unique-idempotency floor pass of
// bench/workloads/publish.mjs interleaved between them, so both trees see the same machine in the
// same minutes. Then one full library cell per tree (its counted pass gives rows per publish).
// Development tool for before/after figures on a shared machine; not part of `npm run bench`.
//
//   mkdir /tmp/before && git archive <commit> | tar -x -C /tmp/before && ln -s "$PWD/node_modules" /tmp/before/node_modules
//   PATH="$PWD/node_modules/.bin:$PATH" node bench/tools/ab-publish.mjs /tmp/before "$PWD" [rounds=5]
//
// Prints one line per pass (CPU µs per publish, p50/p99 ms, load average), then per tree the median
// library and floor CPU and the ratio of the medians, and the rows written/read per publish.
import { loadavg } from "node:os"
import { alternate, closeTrees, openTrees, upperMedian as median } from "./lib/interleave.mjs"

const [a, b] = [process.argv[2], process.argv[3]]
const rounds = Number(process.argv[4] ?? 5)
if (a === undefined || b === undefined) throw new Error("usage: node bench/tools/ab-publish.mjs <tree-a> <tree-b> [rounds]")

const trees = await openTrees([a, b], async (tree) => ({ publish: await import(`${tree}/bench/workloads/publish.mjs`) }))
const cpu = new Map()
try {
  await alternate(trees, rounds, ["library", "floor"], async (t, which, run) => {
    const target = which === "library" ? t.publish.libraryTarget("bench") : t.publish.floorTarget("unique-idempotency")
    const figures = await t.publish.pass({ server: t.server, quick: false }, target, `ab-${which}-${run}-${Date.now()}`)
    const key = `${t.label} ${which}`
    cpu.set(key, [...(cpu.get(key) ?? []), figures.cpuUsPerPublish])
    console.log(JSON.stringify({ run, tree: t.label, target: which, cpuUsPerPublish: Math.round(figures.cpuUsPerPublish), p50Ms: figures.p50Ms, p99Ms: figures.p99Ms, dup: figures.duplicatesDelivered, load: loadavg()[0].toFixed(2) }))
  })
  for (const t of trees) {
    const cell = t.publish.default.cells().find((each) => each.params.kind === "library")
    const rows = await t.publish.default.run({ server: t.server, run: 0, quick: false, log: () => {} }, cell)
    const library = median(cpu.get(`${t.label} library`))
    const floor = median(cpu.get(`${t.label} floor`))
    console.log(
      `${t.label} (${t.tree}): median CPU µs/publish library ${Math.round(library)}, floor ${Math.round(floor)}, ratio ${(library / floor).toFixed(2)}x; ` +
        `rows written ${rows.rowsWrittenPerPublish.toFixed(2)}, read ${rows.rowsReadPerPublish.toFixed(2)} per publish`,
    )
  }
} finally {
  await closeTrees(trees)
}
