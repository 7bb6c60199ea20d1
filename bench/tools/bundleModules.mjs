// Which source module a line of wrangler's bundle (`worker.js`) belongs to: the bundle names each
// module in a `// path` comment line before its code. For the profiling tools, whose frames name
// bundle lines (0-based in V8's profiles, 1-based in perf maps: `firstLine`).
export const bundleModules = (source, { firstLine = 0 } = {}) => {
  const starts = []
  source.split("\n").forEach((line, index) => {
    const match = /^\/\/ (\S+\.(?:m?js|ts))$/.exec(line)
    if (match) starts.push([index + firstLine, match[1].replace(/^.*node_modules\//, "")])
  })
  return (line) => {
    let name = "(bundle)"
    for (const [start, module] of starts) {
      if (start > line) break
      name = module
    }
    return name
  }
}
