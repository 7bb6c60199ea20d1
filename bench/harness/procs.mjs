// Process-tree lookups in /proc (Linux), for the harness: which workerd processes belong to one dev server.
import { readFileSync, readdirSync } from "node:fs"

const parentOf = (pid) => {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
  // Fields after the command name (which may hold spaces) start after the last ')'.
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1])
}

/** Whether `pid` is `rootPid` or one of its descendants. */
export const descendsFrom = (pid, rootPid) => {
  for (let current = pid, hops = 0; current > 1 && hops < 20; hops++) {
    if (current === rootPid) return true
    try {
      current = parentOf(current)
    } catch {
      return false
    }
  }
  return false
}

/** The workerd processes among `rootPid` and its descendants. */
export const workerdPidsUnder = (rootPid) => {
  const pids = []
  for (const entry of readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
    const pid = Number(entry)
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("workerd") && descendsFrom(pid, rootPid)) pids.push(pid)
    } catch {
      // the process ended meanwhile
    }
  }
  return pids
}

/** CPU milliseconds (user + system, 10 ms ticks) and resident MiB summed over `pids`. */
export const usageOf = (pids) => {
  let ticks = 0
  let pages = 0
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
      ticks += Number(fields[11]) + Number(fields[12])
      pages += Number(fields[21])
    } catch {
      // the process ended meanwhile
    }
  }
  return { cpuMs: ticks * 10, rssMiB: Math.round((pages * 4096) / 1024 / 1024) }
}
