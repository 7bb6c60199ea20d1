// Database change commit-to-delivery: a writer inserts one row per HTTP request at a fixed
// open-loop rate; 1 or 100 subscriber sockets on the row's table receive each change. Compares
// this library's database (shard → outbox → drain → hub → fan-out) with the row + outbox floor
// (one object: insert row and outbox row, send, mark published, in one turn).
import { closeAll, openLoop, openMany, openSocket, sleep, waitFor } from "../harness/load.mjs"
import { latencyHistogram } from "../harness/stats.mjs"
import { alternateChunks } from "./interleavedChunks.mjs"

export const LIBRARY = "durable-realtime db"
/** The same table declared with `streamFrom: "shard"`: its stream lives in the shard, one RPC hop per write. */
export const LIBRARY_IN_SHARD = "durable-realtime db, streamFrom: shard"
export const FLOOR = "row + outbox floor"
/**
 * Two plain hops (bench/dbflow/floorTwoHop.ts): the floor's commit, then its change sent on to a second object that buffers
 * it and sends the frame, as the default configuration's Worker → shard → hub. Not in `npm run bench`'s cells: bench/dbflow/ab.mjs runs it.
 */
export const FLOOR_TWO_HOP = "row + outbox floor, two hops"
const EMPTY = "HTTP route alone (no write)"
/** Writes before the measured phase: boot the shard/hub or floor object, warm the JIT. */
const WARMUP_WRITES = 10
/** After the last delivery: the library's durable drain job fires ≤ 500 ms after a write; count its CPU too. */
const SETTLE_MS = 700

const json = async (response) => {
  if (!response.ok) throw new Error(`${response.status} ${await response.text()}`)
  return response.json()
}

/** How one target is reached: where to write, how to subscribe, how to count rows written. */
export const targetFor = (server, name, runId) => {
  const tenantId = `t-${runId}`
  /** The measured writes issued by the Worker itself (bench/dbflow/routes.ts burst route): one HTTP request per run, `batch` rows per call. */
  const route = name === LIBRARY ? "library" : name === LIBRARY_IN_SHARD ? "in-shard" : name === FLOOR_TWO_HOP ? "floor-two-hop" : "floor"
  const burst = (rate, count, from = 0, batch = 1) =>
    fetch(`${server.url}/dbflow/burst/${route}/${runId}?${new URLSearchParams({ tenant: tenantId, rate, count, from, batch })}`, { method: "POST" }).then(json)
  if (route === "library" || route === "in-shard") {
    let grant
    return {
      tenantId,
      burst,
      write: (row) => fetch(`${server.url}/dbflow/${route}/write`, { method: "POST", body: JSON.stringify(row), headers: { "content-type": "application/json" } }),
      prepare: async () => (grant = await json(await fetch(`${server.url}/dbflow/${route}/grant/${tenantId}`))),
      subscribe: (onFrame) =>
        openSocket(`${server.wsUrl}${grant.url}`, { protocols: grant.protocols, isReady: (data) => JSON.parse(data.toString()).type === "ready", onFrame }),
      takeRows: async () => {
        const { shard, hub } = await json(await fetch(`${server.url}/dbflow/${route}/rows/${tenantId}`))
        return { rowsWritten: shard.rowsWritten + hub.rowsWritten, byStatement: { shard: shard.byStatement, hub: hub.byStatement } }
      },
    }
  }
  const base = `${server.url}/floor/dbflow/${runId}`
  if (route === "floor-two-hop") {
    const hub = `${server.url}/floor/dbflow-hub/${runId}`
    return {
      tenantId,
      burst,
      // Warm-up writes take the same two hops.
      write: (row) => fetch(`${base}/write-via-hub`, { method: "POST", body: JSON.stringify(row), headers: { "content-type": "application/json" } }),
      prepare: async () => {},
      subscribe: (onFrame) => openSocket(`${server.wsUrl}/floor/dbflow-hub/${runId}/ws`, { onFrame }),
      takeRows: async () => {
        const [first, second] = [await json(await fetch(`${base}/rows`)), await json(await fetch(`${hub}/rows`))]
        return { rowsWritten: first.rowsWritten + second.rowsWritten }
      },
    }
  }
  return {
    tenantId,
    burst,
    write: (row) => fetch(`${base}/write`, { method: "POST", body: JSON.stringify(row), headers: { "content-type": "application/json" } }),
    prepare: async () => {},
    subscribe: (onFrame) => openSocket(`${server.wsUrl}/floor/dbflow/${runId}/ws`, { onFrame }),
    takeRows: async () => json(await fetch(`${base}/rows`)),
  }
}

/** The HTTP request alone: what each write costs in workerd before any database code runs. */
const runEmpty = async ({ server }, { rate, durationMs }) => {
  for (let index = 0; index < WARMUP_WRITES; index++) await (await fetch(`${server.url}/dbflow/empty`)).arrayBuffer()
  const cpuBefore = await server.cpuMs()
  const pending = []
  const writes = await openLoop({ rate, durationMs, operation: () => pending.push(fetch(`${server.url}/dbflow/empty`).then((response) => response.arrayBuffer())) })
  await Promise.allSettled(pending)
  await sleep(SETTLE_MS)
  const cpuMs = (await server.cpuMs()) - cpuBefore
  return { cpuUsPerChange: (cpuMs * 1000) / writes, cpuUsPerWrite: (cpuMs * 1000) / writes, writes, workerdCpuMs: cpuMs }
}

/**
 * One target made ready to measure: subscribed, warmed up (writes delivered to everyone, the
 * library's drain job fired), its row counters reset. It counts the deliveries of rows
 * `${runId}-<index>` for index < `capacity`; `figures(cpuMs, total, rows, failedWrites)` sums them up.
 */
const openDbTarget = async ({ server, run }, cell, capacity) => {
  const { rate, subscribers } = cell.params
  const runId = `${cell.target === LIBRARY ? "lib" : cell.target === LIBRARY_IN_SHARD ? "libshard" : cell.target === FLOOR_TWO_HOP ? "floor2" : "floor"}-${rate}-${subscribers}-${run}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`
  const target = targetFor(server, cell.target, runId)
  const state = {
    runId,
    target,
    scheduledAt: new Float64Array(capacity),
    deliveries: new Uint16Array(capacity),
    completion: latencyHistogram(), // scheduled write time → received by the last subscriber
    commitToReceive: latencyHistogram(), // server commit timestamp (createdAt) → received by the last subscriber
    delivered: 0,
    warmDelivered: 0,
    stray: 0,
    failedWrites: 0,
  }

  const onFrame = (data) => {
    const receivedAt = performance.now()
    const frame = JSON.parse(data.toString())
    if (frame.type !== "database.change") return
    const id = frame.new?.id ?? ""
    const title = frame.new?.title ?? ""
    const suffix = id.slice(id.lastIndexOf("-") + 1)
    if (suffix.startsWith("w")) return void state.warmDelivered++
    const index = Number(suffix)
    if (!Number.isInteger(index) || index < 0 || index >= capacity) return void state.stray++
    state.delivered++
    if (++state.deliveries[index] === subscribers) {
      // Writes issued in the Worker carry their scheduled time (epoch ms, same machine clock) in the title.
      state.completion.record(title.startsWith("due:") ? Date.now() - Number(title.slice(4)) : receivedAt - state.scheduledAt[index])
      state.commitToReceive.record(Date.now() - Date.parse(frame.createdAt))
    }
  }

  await target.prepare()
  state.sockets = await openMany(subscribers, () => target.subscribe(onFrame))
  try {
    // Warm-up, sequential, and delivered to everyone before the measured phase starts.
    for (let index = 0; index < WARMUP_WRITES; index++) {
      const response = await target.write({ id: `${runId}-w${index}`, tenantId: target.tenantId, title: `warm ${index}` })
      if (!response.ok) throw new Error(`warm-up write refused: ${response.status} ${await response.text()}`)
      await response.arrayBuffer()
    }
    if (!(await waitFor(() => state.warmDelivered >= WARMUP_WRITES * subscribers, 15_000)))
      throw new Error(`warm-up changes not delivered (${state.warmDelivered}/${WARMUP_WRITES * subscribers})`)
    await sleep(SETTLE_MS) // let the library's drain job from the warm-up fire outside the measured phase
    await target.takeRows() // reset the row counters: boot, migrations and warm-up are not measured
  } catch (error) {
    await closeAll(state.sockets)
    throw error
  }
  state.figures = (cpuMs, total, rows) => ({
    cpuUsPerChange: state.delivered === 0 ? null : (cpuMs * 1000) / state.delivered,
    cpuUsPerWrite: (cpuMs * 1000) / total,
    p50Ms: state.completion.percentileMs(50),
    p99Ms: state.completion.percentileMs(99),
    maxMs: state.completion.maxMs(),
    commitP50Ms: state.commitToReceive.percentileMs(50),
    commitP99Ms: state.commitToReceive.percentileMs(99),
    rowsPerWrite: rows.rowsWritten / total,
    deliveredFraction: state.delivered / (total * subscribers),
    writes: total,
    failedWrites: state.failedWrites,
    strayFrames: state.stray,
    workerdCpuMs: cpuMs,
  })
  return state
}

const runTarget = async (context, cell) => {
  const { server, log } = context
  const { rate, durationMs, subscribers, writer } = cell.params
  if (cell.target === EMPTY) return runEmpty({ server }, cell.params)
  const total = Math.floor((durationMs / 1000) * rate)
  const state = await openDbTarget(context, cell, total)
  const { target, runId } = state
  try {
    const cpuBefore = await server.cpuMs()
    const pending = []
    const title = "x".repeat(40)
    if (writer === "worker") {
      const answer = await target.burst(rate, total)
      state.failedWrites += answer.failed
    } else await openLoop({
      rate,
      durationMs,
      operation: (index, at) => {
        state.scheduledAt[index] = at
        pending.push(
          target.write({ id: `${runId}-${index}`, tenantId: target.tenantId, title }).then(
            async (response) => {
              if (!response.ok) state.failedWrites++
              await response.arrayBuffer()
            },
            () => state.failedWrites++,
          ),
        )
      },
    })
    await Promise.all(pending)
    const complete = await waitFor(() => state.delivered >= total * subscribers, 30_000)
    if (!complete) log(`only ${state.delivered}/${total * subscribers} changes delivered in 30 s`)
    await sleep(SETTLE_MS)
    const cpuMs = (await server.cpuMs()) - cpuBefore
    const rows = await target.takeRows()
    if (rows.byStatement !== undefined) log(`rows written by statement over ${total} writes: ${JSON.stringify(rows.byStatement)}`)
    return state.figures(cpuMs, total, rows)
  } finally {
    await closeAll(state.sockets)
  }
}

/**
 * `npm run bench`: the writes-inside-the-Worker group side by side (interleavedChunks.mjs), every
 * target's objects open for the whole run and `rounds` bursts of `chunkMs` per target alternating,
 * each chunk's CPU read after its deliveries and SETTLE_MS (the library's drain job) so the drain is
 * counted in its own target's chunk; the HTTP groups cell by cell as before (`runTarget`).
 */
const runGroupsTogether = async (context, cells) => {
  const figures = new Array(cells.length)
  for (const [index, cell] of cells.entries()) {
    const log = (line) => context.log(`${cell.group} | ${cell.target}: ${line}`)
    if (cell.params.chunkMs === undefined) figures[index] = await runTarget({ ...context, log }, cell)
  }
  for (const group of new Set(cells.filter((cell) => cell.params.chunkMs !== undefined).map((cell) => cell.group))) {
    const indices = cells.flatMap((cell, index) => (cell.group === group ? [index] : []))
    const { rate, chunkMs, rounds, subscribers } = cells[indices[0]].params
    const perChunk = Math.floor((chunkMs / 1000) * rate)
    const states = []
    try {
      for (const index of indices) states.push(await openDbTarget(context, cells[index], rounds * perChunk))
      const sides = states.map((state) => ({
        chunk: async (base) => {
          state.failedWrites += (await state.target.burst(rate, perChunk, base)).failed
          return perChunk
        },
        caughtUp: (sent) => state.delivered >= sent * subscribers,
        settleMs: SETTLE_MS,
      }))
      const totals = await alternateChunks(context, { sides, rate, chunkMs, rounds, drainMs: 30_000 })
      for (const [position, state] of states.entries())
        figures[indices[position]] = state.figures(totals[position].cpuMs, totals[position].sent, await state.target.takeRows())
    } finally {
      for (const state of states) await closeAll(state.sockets)
    }
  }
  return figures
}

const groupsFor = (quick) =>
  quick
    ? [
        { writer: "http", rate: 50, durationMs: 2000, subscribers: [1, 100] },
        { writer: "worker", rate: 50, durationMs: 2000, subscribers: [100], chunkMs: 1000, rounds: 2 },
      ]
    : [
        { writer: "http", rate: 100, durationMs: 3000, subscribers: [1, 100] },
        { writer: "http", rate: 20, durationMs: 3000, subscribers: [1, 100] },
        // The clean CPU comparison (no HTTP request per write); with 100 subscribers the sends dominate both sides
        // and the HTTP groups already show it, so one subscriber keeps the 5-run set near 5 minutes.
        // Side by side (runGroupsTogether): 6 rounds of a 1 s burst per target, 600 writes each.
        { writer: "worker", rate: 100, durationMs: 3000, subscribers: [1], chunkMs: 1000, rounds: 6 },
      ]

export default {
  name: "db",
  title: "Database change commit-to-delivery",
  description: `
A writer inserts one row per HTTP request (Node → the benchmark Worker) at a fixed open-loop rate; 1 or 100 subscriber
sockets on that table receive each change. **durable-realtime db**: \`dbflow.table("posts").insert(row)\` (Promise API)
in the Worker route, a private table partitioned by \`tenantId\` (one shard), subscribers on \`/realtime-db\` with a grant
for the run's tenant (bench/dbflow/schema.ts): the default, each partition's stream in its own table hub object (Worker →
shard → hub, two RPC hops per write). **durable-realtime db, streamFrom: shard**: the same table declared with
\`streamFrom: "shard"\`, its streams hosted in the shard object (Worker → shard, one hop: the shard commits, buffers and
sends in the write's own turn). **row + outbox floor**: the same HTTP route shape forwarded to one Durable
Object that inserts the row and an outbox row in one transaction, sends the change frame to every socket it holds
(hibernation API) and marks the outbox row published, in one turn (bench/dbflow/floor.ts). Every HTTP request through
\`wrangler dev\` costs workerd CPU before any of our code runs (the *HTTP route alone* row measures it): both targets pay it
once per write, so it is in both numerators and the ratio stays fair, but it compresses the ratio towards 1. The
*writes issued inside the Worker* group removes it: one HTTP request per run starts a loop in the Worker that issues the
same writes open-loop at the same rate (\`insert(row)\` for the library, a Durable Object RPC \`write(row)\` for the floor),
each row carrying its scheduled time (bench/dbflow/routes.ts). That group runs its three targets side by side: each run
holds all three open and alternates 6 bursts of 1 s (100 writes) per target, each burst's CPU read after its deliveries
and 700 ms more (the library's drain job), so every target sees the same minutes of a shared machine.

Figures: *CPU/change* (primary) = workerd CPU over the measured phase (writes, deliveries, the library's retry job) ÷
changes delivered (writes × subscribers); *CPU/write* = the same ÷ writes; *p50/p99* = scheduled write time → the change
received by the last subscriber; *commit p50/p99* = the frame's server commit time (\`createdAt\`) → received by the last
subscriber (1 ms clock); *rows/write* = SQLite \`rowsWritten\` per write, all objects involved (the library's shard and hub
classes are subclassed only to add up each statement's \`rowsWritten\`: bench/dbflow/counted.ts). No peer runs here:
Supabase Realtime, the natural one, needs Postgres and an Elixir server, neither available offline on this machine.
`,
  primary: { key: "cpuUsPerChange", label: "workerd CPU µs per delivered change", short: "CPU/change" },
  columns: [
    { key: "cpuUsPerWrite", label: "CPU µs / write", digits: 0 },
    { key: "p50Ms", label: "p50 ms" },
    { key: "p99Ms", label: "p99 ms" },
    { key: "commitP50Ms", label: "commit→recv p50 ms" },
    { key: "commitP99Ms", label: "commit→recv p99 ms" },
    { key: "rowsPerWrite", label: "rows written / write", digits: 2 },
    { key: "deliveredFraction", label: "delivered", digits: 3 },
  ],
  // Per run: every cell of the run, the side-by-side group included (runGroupsTogether).
  timeoutMs: 420_000,
  cells: ({ quick }) =>
    groupsFor(quick).flatMap(({ writer, rate, durationMs, subscribers: counts, chunkMs, rounds }) =>
      counts.flatMap((subscribers) => {
        const how = writer === "http" ? "HTTP write requests" : "writes issued inside the Worker"
        const length = chunkMs === undefined ? `${durationMs / 1000} s` : `${rounds} × ${chunkMs / 1000} s, targets side by side`
        const group = `${rate} writes/s × ${length} (${how}), ${subscribers} subscriber${subscribers === 1 ? "" : "s"}`
        // chunkMs/rounds: how `npm run bench` runs the group (runGroupsTogether); the tools' `run` takes durationMs.
        const params = { writer, rate, durationMs, subscribers, ...(chunkMs === undefined ? {} : { chunkMs, rounds }) }
        const cells = [
          { group, target: LIBRARY, floor: FLOOR, params },
          { group, target: LIBRARY_IN_SHARD, floor: FLOOR, params },
          { group, target: FLOOR, floor: FLOOR, params },
        ]
        // The per-request cost of the transport (it depends neither on subscribers nor much on rate).
        if (writer === "http" && subscribers === 1 && (quick || rate === 100)) cells.push({ group, target: EMPTY, floor: FLOOR, params })
        return cells
      }),
    ),
  runTogether: runGroupsTogether,
  run: runTarget,
}
