// CPU time and resident memory of the workerd processes one wrangler dev started (its
// descendants only: other workerd processes on the machine are not ours to count), from /proc.
import { readFileSync, readdirSync } from "node:fs"

const TICKS_PER_SECOND = 100 // USER_HZ on Linux

const statOf = (pid) => {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
  // Fields after the command name (which may hold spaces) start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  return { ppid: Number(fields[1]), cpuTicks: Number(fields[11]) + Number(fields[12]), rssPages: Number(fields[21]) }
}

export const workerdUsage = async (rootPid) => {
  const stats = new Map()
  for (const pid of readdirSync("/proc").filter((entry) => /^\d+$/.test(entry))) {
    try {
      stats.set(Number(pid), { ...statOf(pid), workerd: readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("workerd") })
    } catch {
      // the process ended meanwhile
    }
  }
  const descends = (pid) => {
    for (let current = pid, hops = 0; current > 1 && hops < 20; hops++) {
      if (current === rootPid) return true
      current = stats.get(current)?.ppid ?? 0
    }
    return false
  }
  let cpuTicks = 0
  let rssPages = 0
  let found = 0
  for (const [pid, stat] of stats) {
    if (!stat.workerd || !descends(pid)) continue
    cpuTicks += stat.cpuTicks
    rssPages += stat.rssPages
    found++
  }
  if (found === 0) return undefined
  return { cpuMs: (cpuTicks * 1000) / TICKS_PER_SECOND, rssMiB: Math.round((rssPages * 4096) / 1024 / 1024) }
}
