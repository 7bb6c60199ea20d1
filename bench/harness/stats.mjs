// Latency histograms (HdrHistogram, microsecond resolution) and the run statistics the report prints.
import * as hdr from "hdr-histogram-js"

/** A latency recorder in milliseconds; values are kept as integer microseconds up to 10 minutes. */
export const latencyHistogram = () => {
  const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: 3 })
  return {
    record: (ms) => histogram.recordValue(Math.max(1, Math.round(ms * 1000))),
    get count() {
      return histogram.totalCount
    },
    percentileMs: (p) => (histogram.totalCount === 0 ? null : histogram.getValueAtPercentile(p) / 1000),
    maxMs: () => (histogram.totalCount === 0 ? null : histogram.maxValue / 1000),
  }
}

export const median = (values) => {
  const sorted = values.filter((value) => typeof value === "number" && Number.isFinite(value)).sort((a, b) => a - b)
  if (sorted.length === 0) return null
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

/** Median, min and max of each numeric figure over runs. */
export const summarize = (runs) => {
  const keys = new Set(runs.flatMap((run) => Object.keys(run)))
  const summary = {}
  for (const key of keys) {
    const values = runs.map((run) => run[key]).filter((value) => typeof value === "number" && Number.isFinite(value))
    if (values.length === 0) continue
    summary[key] = { median: median(values), min: Math.min(...values), max: Math.max(...values) }
  }
  return summary
}
