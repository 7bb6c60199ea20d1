// History paging at depth 1,000 and 1,000,000: pages of 50, the 20 newest pages (backward from
// the newest) and the 20 oldest (forward from the oldest), through the cursor each page returns.
// Objects are seeded once per server run by direct SQL inserts (bench-only seed routes), then
// reused by every run; the cursors are collected by one unmeasured walk, and the measured phase
// requests those pages open-loop so a slow page cannot delay the next one's start.
import { openLoop, waitFor } from "../harness/load.mjs"
import { latencyHistogram } from "../harness/stats.mjs"

const PAGE = 50
const PAGES = 20
const SEED_BATCH = 100_000
const depths = [1_000, 1_000_000]
const loadFor = (quick) => (quick ? { rate: 20, walksPerSecond: 10, durationMs: 1000 } : { rate: 20, walksPerSecond: 10, durationMs: 2500 })
const label = (depth) => depth.toLocaleString("en-US")

const targets = {
  library: {
    object: (depth) => `history-lib-${depth}-${process.pid}`,
    seed: (base, id, from, to) => `${base}/bench-persist/counted/${id}/__bench/seed?from=${from}&to=${to}`,
    page: (base, id) => `${base}/bench-persist/history/${id}`,
    stats: (base, id) => `${base}/bench-persist/counted/${id}/__bench/stats`,
  },
  floor: {
    object: (depth) => `history-floor-${depth}-${process.pid}`,
    seed: (base, id, from, to) => `${base}/floor/keyset/${id}/seed?from=${from}&to=${to}`,
    page: (base, id) => `${base}/floor/keyset/${id}/history`,
    stats: (base, id) => `${base}/floor/keyset/${id}/stats`,
  },
}

const getJson = async (url, init) => {
  const response = await fetch(url, init)
  if (!response.ok) throw new Error(`${url}: ${response.status} ${await response.text()}`)
  return response.json()
}

const pageUrl = (target, base, id, { direction, cursor }) => {
  const query = new URLSearchParams({ limit: String(PAGE), direction, ...(cursor === null ? {} : { cursor }) })
  return `${target.page(base, id)}?${query}`
}

/** The seqs a page must hold, given its index in the walk: checks the seeding and the paging. */
const expectedFirstSeq = (depth, direction, index) => (direction === "backward" ? depth - index * PAGE : 1 + index * PAGE)

const checkPage = (page, depth, direction, index) => {
  const seqs = page.messages.map((message) => message.seq)
  const first = expectedFirstSeq(depth, direction, index)
  const step = direction === "backward" ? -1 : 1
  if (seqs.length !== PAGE || seqs.some((seq, at) => seq !== first + at * step)) {
    throw new Error(`page ${index} (${direction}) holds seqs ${seqs[0]}..${seqs[seqs.length - 1]} (${seqs.length}), expected ${first}.. (${PAGE})`)
  }
}

// Seeded objects and their page cursors, per server run (this module lives as long as the run).
const prepared = new Map()

/** Seed one object to `depth` rows (once), walk its 20 newest and 20 oldest pages, keep the cursors. */
const prepare = (base, kind, depth, log) => {
  const key = `${kind}:${depth}`
  if (!prepared.has(key)) {
    prepared.set(
      key,
      (async () => {
        const target = targets[kind]
        const id = target.object(depth)
        const started = performance.now()
        for (let from = 1; from <= depth; from += SEED_BATCH) {
          await getJson(target.seed(base, id, from, Math.min(depth, from + SEED_BATCH - 1)), { method: "POST" })
        }
        log(`seeded ${kind} to ${label(depth)} rows in ${Math.round(performance.now() - started)} ms`)
        const walks = {}
        for (const direction of ["backward", "forward"]) {
          const requests = []
          let cursor = null
          for (let index = 0; index < PAGES; index++) {
            requests.push({ direction, cursor })
            const page = await getJson(pageUrl(target, base, id, { direction, cursor }))
            checkPage(page, depth, direction, index)
            cursor = page.nextCursor
          }
          walks[direction] = requests
        }
        return { target, id, walks }
      })(),
    )
  }
  return prepared.get(key)
}

export default {
  name: "history",
  title: "History paging, page size 50",
  description: [
    "One object seeded (bench-only routes, direct SQL inserts in the target's own row format, excluded from the figures) to 1,000 and",
    "1,000,000 messages. *newest*: the 20 pages going backward from the newest message; *oldest*: the 20 pages going forward from the",
    "oldest, each through the cursor the previous page returned (collected by one unmeasured walk that also checks every page's seqs).",
    "Two measured phases per run, both open-loop for 2.5 s. CPU and rows: whole 20-page walks, 10/s, each one HTTP request to a bench",
    "route that pages inside the Worker (Worker → object per page, as a Worker calling `history()` does), because wrangler dev spends",
    "several ms of workerd CPU on every HTTP request before any of our code runs (the last column shows that per-request figure);",
    "CPU/page is the workerd CPU delta over the walks divided by pages, rows read are the SQLite cursors' `rowsRead` per page.",
    "Latency: the same pages as one HTTP request each, 20/s, p50/p99 from each request's scheduled start. This",
    "library runs as `CountedRealtimeRoom` (bench/persist-library.ts: `RealtimeRoom` with `sql.exec` wrapped to count rows, and the",
    "seed route), historyLimit 2,000,000 so nothing is pruned, paged through the facade `room(id).history({ limit, cursor, direction })`;",
    "the keyset floor runs `SELECT seq, payload ... WHERE seq < ? ORDER BY seq DESC LIMIT 51` (or `seq > ?` ascending).",
  ].join(" "),
  primary: { key: "cpuUsPerPage", label: "workerd CPU µs per page", short: "CPU/page" },
  columns: [
    { key: "p50Ms", label: "p50 ms" },
    { key: "p99Ms", label: "p99 ms" },
    { key: "rowsReadPerPage", label: "rows read / page" },
    { key: "cpuUsPerHttpPage", label: "CPU µs / page, one HTTP request each" },
  ],
  timeoutMs: 180_000,
  cells: () =>
    depths.flatMap((depth) =>
      ["newest", "oldest"].flatMap((end) =>
        ["library", "floor"].map((kind) => ({
          group: `depth ${label(depth)}, ${end} 20 pages`,
          target: kind === "library" ? "durable-realtime room" : "keyset floor",
          floor: "keyset floor",
          params: { kind, depth, direction: end === "newest" ? "backward" : "forward" },
        })),
      ),
    ),
  run: async ({ server, quick, log }, cell) => {
    const { kind, depth, direction } = cell.params
    const { target, id, walks } = await prepare(server.url, kind, depth, log)
    const { rate, durationMs, walksPerSecond } = loadFor(quick)

    // Phase 1 (CPU, rows): whole 20-page walks, each one HTTP request paging inside the Worker.
    const walkUrl = `${server.url}/bench-persist/walk/${kind}/${id}?${new URLSearchParams({ limit: String(PAGE), pages: String(PAGES), direction })}`
    const expected = { count: PAGE * PAGES, first: expectedFirstSeq(depth, direction, 0), last: expectedFirstSeq(depth, direction, PAGES - 1) + (direction === "backward" ? -(PAGE - 1) : PAGE - 1) }
    const rowsBefore = await getJson(target.stats(server.url, id))
    const walked = await measure(server, { rate: walksPerSecond, durationMs }, () =>
      getJson(walkUrl).then((result) => {
        if (result.count !== expected.count || result.first !== expected.first || result.last !== expected.last) {
          throw new Error(`walk returned ${JSON.stringify(result)}, expected ${JSON.stringify(expected)}`)
        }
      }),
    )
    const rowsAfter = await getJson(target.stats(server.url, id))
    const pagesWalked = walked.total * PAGES

    // Phase 2 (latency): one HTTP request per page, the pages of the walk in turn.
    const requests = walks[direction]
    const single = await measure(server, { rate, durationMs }, (index) =>
      getJson(pageUrl(target, server.url, id, requests[index % PAGES])).then((page) => {
        if (page.messages.length !== PAGE) throw new Error(`page of ${page.messages.length}`)
      }),
    )
    return {
      cpuUsPerPage: (walked.cpuMs * 1000) / pagesWalked,
      p50Ms: single.histogram.percentileMs(50),
      p99Ms: single.histogram.percentileMs(99),
      rowsReadPerPage: (rowsAfter.rowsRead - rowsBefore.rowsRead) / pagesWalked,
      cpuUsPerHttpPage: (single.cpuMs * 1000) / single.total,
      pages: pagesWalked,
    }
  },
}

/** Run `operation(index)` open-loop; latency from each scheduled start; workerd CPU over the phase. */
const measure = async (server, { rate, durationMs }, operation) => {
  const histogram = latencyHistogram()
  let done = 0
  let failure
  const cpuBefore = await server.cpuMs()
  const total = await openLoop({
    rate,
    durationMs,
    operation: (index, scheduledAt) => {
      operation(index)
        .then(() => histogram.record(performance.now() - scheduledAt))
        .catch((error) => (failure ??= error))
        .finally(() => done++)
    },
  })
  await waitFor(() => done === total, 60_000)
  const cpuMs = (await server.cpuMs()) - cpuBefore
  if (failure !== undefined) throw failure
  if (done !== total) throw new Error(`${done}/${total} requests answered`)
  return { histogram, cpuMs, total }
}
