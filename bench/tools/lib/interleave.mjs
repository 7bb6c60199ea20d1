// The A/B tools' shared parts: one bench server per source tree, each started by that tree's own
// harness, and rounds in which every step runs once on each tree, the tree that goes first
// alternating by round so neither always runs right after the other (both see the same machine in
// the same minutes: the only fair comparison on a shared, noisy machine).

/**
 * Starts a bench server from each tree (`paths[0]` labelled A, then B) and adds what `load(path)`
 * imports from it (the tree's workload modules).
 */
export const openTrees = async (paths, load) => {
  const trees = []
  for (const [index, path] of paths.entries()) {
    const { startBenchServer } = await import(`${path}/bench/harness/server.mjs`)
    trees.push({ tree: path, label: String.fromCharCode(65 + index), ...(await load(path)), server: await startBenchServer() })
  }
  return trees
}

export const closeTrees = async (trees) => {
  for (const tree of trees) await tree.server.stop()
}

/** `rounds` rounds; in each, every step runs on every tree: `runStep(tree, step, round)`, rounds counted from 1. */
export const alternate = async (trees, rounds, steps, runStep) => {
  for (let round = 1; round <= rounds; round++) {
    for (const step of steps) {
      for (const tree of round % 2 === 1 ? trees : [...trees].reverse()) await runStep(tree, step, round)
    }
  }
}

/** The upper of the two middle values for an even count (what these tools have always printed). */
export const upperMedian = (values) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)]
