// Process-tree lookups in /proc (Linux), for the harness: which workerd processes belong to one dev
// server, and how much CPU they used.
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

const statFields = (pid) => {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ")
}

/** CPU milliseconds (user + system, 10 ms ticks, exited threads included) and resident MiB summed over `pids`. */
export const usageOf = (pids) => {
  let ticks = 0
  let pages = 0
  for (const pid of pids) {
    try {
      const fields = statFields(pid)
      ticks += Number(fields[11]) + Number(fields[12])
      pages += Number(fields[21])
    } catch {
      // the process ended meanwhile
    }
  }
  return { cpuMs: ticks * 10, rssMiB: Math.round((pages * 4096) / 1024 / 1024) }
}

const isListed = (pid, tid) => {
  try {
    return readdirSync(`/proc/${pid}/task`).includes(tid)
  } catch {
    return false
  }
}

/**
 * CPU nanoseconds each live thread of `pids` has run (`sum_exec_runtime`, the first field of
 * /proc/<pid>/task/<tid>/schedstat), keyed "pid/tid"; undefined when a thread has no schedstat
 * (a kernel without CONFIG_SCHED_INFO), so the caller falls back to ticks.
 */
export const threadCpuNsOf = (pids) => {
  const threads = new Map()
  for (const pid of pids) {
    let tids
    try {
      tids = readdirSync(`/proc/${pid}/task`)
    } catch {
      continue // the process ended meanwhile
    }
    for (const tid of tids) {
      let text
      try {
        text = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8")
      } catch (error) {
        if (error?.code === "ENOENT" && isListed(pid, tid)) return undefined
        continue // the thread (or its process) ended meanwhile
      }
      threads.set(`${pid}/${tid}`, Number(text.split(" ")[0]))
    }
  }
  return threads
}

/**
 * A cumulative CPU clock over a changing set of processes (`pidsOf()` is asked at each read) at
 * nanosecond resolution: /proc/<pid>/stat's utime + stime come in 10 ms ticks, a tenth of a
 * 100-200 ms benchmark cell, while schedstat counts every nanosecond a thread ran. Unlike stat,
 * schedstat forgets a thread when it exits, so the clock keeps each thread's last reading: a thread
 * that exits between two reads loses only what it ran after the earlier one, and `exitedThreads`
 * counts those (0 over a run means the ns figures are whole). Threads are read while the server
 * is idle (a cell reads before and after its load), when their counts are up to date.
 * `read()` returns { cpuMs (ns-resolved, or ticks without schedstat), tickCpuMs, rssMiB, processes,
 * threads, exitedThreads, source: "schedstat" | "ticks" }.
 */
export const cpuClock = (pidsOf) => {
  const lastSeen = new Map()
  let departedNs = 0
  let exitedThreads = 0
  return {
    read: () => {
      const pids = pidsOf()
      if (pids.length === 0) return undefined
      const ticks = usageOf(pids)
      const threads = threadCpuNsOf(pids)
      if (threads === undefined) return { cpuMs: ticks.cpuMs, tickCpuMs: ticks.cpuMs, rssMiB: ticks.rssMiB, processes: pids.length, threads: 0, exitedThreads, source: "ticks" }
      for (const [key, ns] of lastSeen) {
        if (threads.has(key)) continue
        departedNs += ns
        exitedThreads++
        lastSeen.delete(key)
      }
      let liveNs = 0
      for (const [key, ns] of threads) {
        lastSeen.set(key, ns)
        liveNs += ns
      }
      return {
        cpuMs: (liveNs + departedNs) / 1e6,
        tickCpuMs: ticks.cpuMs,
        rssMiB: ticks.rssMiB,
        processes: pids.length,
        threads: threads.size,
        exitedThreads,
        source: "schedstat",
      }
    },
  }
}
