// Persisted publish with 10% repeated idempotency keys: one publisher socket and 10 receiver
// sockets on one object, open-loop publishes; latency is publish (scheduled time) → the last
// receiver holding the message. The library's CPU and latency come from the unmodified
// RealtimeRoom; its rows come from a second pass of the same load on CountedRealtimeRoom.
import { closeAll, grantFor, openLoop, openMany, openSocket, sleep, waitFor } from "../harness/load.mjs"
import { latencyHistogram } from "../harness/stats.mjs"
import { alternateChunks } from "./interleavedChunks.mjs"

const RECEIVERS = 10
const FAIR_FLOOR = "unique-idempotency"
const RATE = 150
/** `npm run bench`: per run and target ROUNDS chunks of CHUNK_MS (1,200 publishes), the targets' chunks alternating. */
const CHUNK_MS = 1000
const ROUNDS = 8
const QUICK_ROUNDS = 2
/** One continuous pass (`run`, the tools; and the library's counted pass for rows). */
const DURATION_MS = 4000
const QUICK_DURATION_MS = 1500

/** Every 10th publish repeats the key (and body: a client retry) of a publish five earlier. */
const isDuplicate = (index) => index % 10 === 9
const originalOf = (index) => (isDuplicate(index) ? index - 5 : index)
const frameFor = (index) => {
  const n = originalOf(index)
  return JSON.stringify({ type: "publish", id: String(index), message: { type: "m", data: { n, text: "persisted publish bench" }, idempotencyKey: `k${n}` } })
}

/** `n` of a delivered message frame, for the library (`message.data.n`) and the floors (`message.payload.data.n`). */
const deliveredN = (text) => {
  const frame = JSON.parse(text)
  if (frame.type !== "message") return undefined
  return frame.message.data?.n ?? frame.message.payload?.data?.n
}

export const libraryTarget = (instance) => ({
  open: async (server, room, user) => {
    const grant =
      instance === "bench"
        ? await grantFor(server, "rooms", room, user, ["read", "publish"])
        : await (await fetch(`${server.url}/bench-persist/grant/${encodeURIComponent(room)}?user=${user}`)).json()
    return (onFrame) =>
      openSocket(`${server.wsUrl}${grant.url}`, { protocols: grant.protocols, isReady: (data) => JSON.parse(data.toString()).type === "ready", onFrame })
  },
})
export const floorTarget = (name) => ({
  open: async (server, room) => (onFrame) => openSocket(`${server.wsUrl}/floor/${name}/${encodeURIComponent(room)}/ws`, { onFrame }),
})

/**
 * One publisher and RECEIVERS receivers on `room`, connected, as a side for alternateChunks:
 * `send(index, scheduledAt)` publishes the index-th frame of the run, `caughtUp(sent)` holds once
 * every ack and every original's deliveries of the first `sent` have arrived.
 */
const publishSide = async (server, target, room, capacity) => {
  const scheduled = new Float64Array(capacity)
  const received = new Uint16Array(capacity) // deliveries per original publish, over all receivers
  const side = { histogram: latencyHistogram(), acks: 0, duplicatesDelivered: 0 }
  const connect = []
  for (let index = 0; index <= RECEIVERS; index++) connect.push(await target.open(server, room, `u${index}`))
  side.sockets = await openMany(
    RECEIVERS + 1,
    (index) =>
      connect[index]((data) => {
        const text = data.toString()
        if (index === 0) {
          if (text.startsWith('{"type":"ack"')) side.acks++
          return
        }
        const n = deliveredN(text)
        if (n === undefined) return
        received[n]++
        if (received[n] === RECEIVERS) side.histogram.record(performance.now() - scheduled[n])
        else if (received[n] > RECEIVERS) side.duplicatesDelivered++
      }),
    RECEIVERS + 1,
  )
  const [publisher] = side.sockets
  side.send = (index, scheduledAt) => {
    scheduled[index] = scheduledAt
    publisher.send(frameFor(index))
  }
  /** Originals among the first `sent` publishes: every 10th is a repeat. */
  side.originalsOf = (sent) => sent - Math.floor(sent / 10)
  side.caughtUp = (sent) => side.acks === sent && side.histogram.count === side.originalsOf(sent)
  side.figures = (cpuMs, sent) => ({
    cpuUsPerPublish: (cpuMs * 1000) / sent,
    p50Ms: side.histogram.percentileMs(50),
    p99Ms: side.histogram.percentileMs(99),
    duplicatesDelivered: side.duplicatesDelivered / RECEIVERS,
  })
  return side
}

const rowsPerPublish = (before, after, total) =>
  before === undefined
    ? {}
    : { rowsWrittenPerPublish: (after.rowsWritten - before.rowsWritten) / total, rowsReadPerPublish: (after.rowsRead - before.rowsRead) / total }

/** One measured pass: connect, publish open-loop (`durationMs`: the cell's, by default the workload's), wait for every ack and delivery. */
export const pass = async ({ server, quick }, target, room, rows = async () => undefined, durationMs = quick ? QUICK_DURATION_MS : DURATION_MS) => {
  const total = Math.floor((durationMs / 1000) * RATE)
  const side = await publishSide(server, target, room, total)
  const rowsBefore = await rows()
  const cpuBefore = await server.cpuMs()
  await openLoop({ rate: RATE, durationMs, operation: side.send })
  const complete = await waitFor(() => side.caughtUp(total), 30_000)
  await sleep(200) // stray duplicate deliveries, if a target makes them, arrive before the sample
  const cpuMs = (await server.cpuMs()) - cpuBefore
  const rowsAfter = await rows()
  await closeAll(side.sockets)
  if (!complete) throw new Error(`incomplete: ${side.acks}/${total} acks, ${side.histogram.count}/${side.originalsOf(total)} delivered to all`)
  return { ...side.figures(cpuMs, total), ...rowsPerPublish(rowsBefore, rowsAfter, total) }
}

/**
 * Every target of `cells` in one run, side by side (interleavedChunks.mjs): ROUNDS chunks of
 * CHUNK_MS per target, alternating. Rows per publish come from each floor's own counters over the
 * run; the library's from a separate continuous pass on the counted class (its CPU includes the
 * counting proxy, so it is not this row's CPU).
 */
const runSideBySide = async (context, cells) => {
  const { server, run } = context
  const base = server.url
  const suffix = `${run}-${Date.now()}`
  const { chunkMs, rounds } = cells[0].params
  const capacity = rounds * Math.floor((chunkMs / 1000) * RATE)
  const plans = cells.map((cell) => {
    if (cell.params.kind === "library") return { target: libraryTarget("bench"), room: `publish-lib-${suffix}`, rows: async () => undefined }
    const room = `publish-${cell.params.name}-${suffix}`
    return { target: floorTarget(cell.params.name), room, rows: () => json(`${base}/floor/${cell.params.name}/${room}/stats`) }
  })
  const sides = []
  try {
    for (const plan of plans) sides.push(await publishSide(server, plan.target, plan.room, capacity))
    const rowsBefore = await Promise.all(plans.map((plan) => plan.rows()))
    const totals = await alternateChunks(context, { sides, rate: RATE, chunkMs, rounds, drainMs: 30_000 })
    await sleep(200) // stray duplicate deliveries, if a target makes them, arrive before they are counted
    const rowsAfter = await Promise.all(plans.map((plan) => plan.rows()))
    const figures = []
    for (const [index, side] of sides.entries()) {
      const { cpuMs, sent, caughtUp } = totals[index]
      if (!caughtUp) throw new Error(`${cells[index].target} incomplete: ${side.acks}/${sent} acks, ${side.histogram.count}/${side.originalsOf(sent)} delivered to all`)
      figures.push({ ...side.figures(cpuMs, sent), ...rowsPerPublish(rowsBefore[index], rowsAfter[index], sent) })
    }
    const library = cells.findIndex((cell) => cell.params.kind === "library")
    if (library !== -1) {
      const room = `publish-counted-${suffix}`
      const counted = await pass(context, libraryTarget("bench-counted"), room, () => json(`${base}/bench-persist/counted/${room}/__bench/stats`), cells[library].params.durationMs)
      figures[library] = { ...figures[library], rowsWrittenPerPublish: counted.rowsWrittenPerPublish, rowsReadPerPublish: counted.rowsReadPerPublish, countedCpuUsPerPublish: counted.cpuUsPerPublish }
    }
    return figures
  } finally {
    for (const side of sides) await closeAll(side.sockets)
  }
}

const json = (url) => fetch(url).then((response) => response.json())

export default {
  name: "publish",
  title: "Persisted publish, 10% repeated idempotency keys",
  description: [
    "One publisher socket and 10 receiver sockets on one object per target; publishes open-loop at 150/s, every 10th repeating",
    "the idempotency key and body of an earlier one (a client retry: it must not be stored or delivered again). Payload `{n, text}` ≈ 50 B.",
    `The targets run side by side: each run holds all three objects open and sends ${ROUNDS} chunks of ${CHUNK_MS / 1000} s per target`,
    `(${(ROUNDS * CHUNK_MS * RATE) / 1000} publishes), the targets' chunks alternating, so every target sees the same minutes of a shared machine.`,
    "CPU is the workerd CPU over a target's chunks divided by its publishes; latency is scheduled publish time → the 10th receiver",
    "holding the message. Rows are the SQLite cursors' `rowsWritten`/`rowsRead` per publish. For this library, CPU and latency come from",
    "the unmodified `RealtimeRoom`; rows come from a separate continuous pass (600 publishes) on `CountedRealtimeRoom` (bench/persist-library.ts,",
    "a bench-only subclass whose `ctx.storage.sql.exec` sums the cursors' rows). The fair floor is `unique-idempotency` (same duplicate",
    "guarantee); `insert-then-send` stores and delivers the repeats (its `dup delivered` column counts them).",
  ].join(" "),
  primary: { key: "cpuUsPerPublish", label: "workerd CPU µs per publish", short: "CPU/publish" },
  columns: [
    { key: "p50Ms", label: "p50 ms" },
    { key: "p99Ms", label: "p99 ms" },
    { key: "rowsWrittenPerPublish", label: "rows written / publish" },
    { key: "rowsReadPerPublish", label: "rows read / publish" },
    { key: "duplicatesDelivered", label: "dup delivered" },
  ],
  timeoutMs: 180_000,
  cells: ({ quick } = {}) => {
    const sizes = { durationMs: quick ? QUICK_DURATION_MS : DURATION_MS, chunkMs: CHUNK_MS, rounds: quick ? QUICK_ROUNDS : ROUNDS }
    return [
      { group: "10 receivers, 10% repeats", target: "durable-realtime room", floor: FAIR_FLOOR, params: { kind: "library", ...sizes } },
      { group: "10 receivers, 10% repeats", target: "unique-idempotency", floor: FAIR_FLOOR, params: { kind: "floor", name: "unique-idempotency", ...sizes } },
      { group: "10 receivers, 10% repeats", target: "insert-then-send", floor: "insert-then-send", params: { kind: "floor", name: "insert-send", ...sizes } },
    ]
  },
  /** The whole run, every target in alternating chunks (what `npm run bench` measures). */
  runTogether: runSideBySide,
  /** One target alone in one continuous pass (the profiling, perf and A/B tools run cells one by one). */
  run: async (context, cell) => {
    const suffix = `${context.run}-${Date.now()}`
    const base = context.server.url
    if (cell.params.kind === "floor") {
      const room = `publish-${cell.params.name}-${suffix}`
      return pass(context, floorTarget(cell.params.name), room, () => json(`${base}/floor/${cell.params.name}/${room}/stats`), cell.params.durationMs)
    }
    const { rowsWrittenPerPublish: _w, rowsReadPerPublish: _r, ...figures } = await pass(context, libraryTarget("bench"), `publish-lib-${suffix}`, undefined, cell.params.durationMs)
    // The same load again on the counted class, for rows only (its CPU includes the counting proxy).
    const room = `publish-counted-${suffix}`
    const counted = await pass(context, libraryTarget("bench-counted"), room, () => json(`${base}/bench-persist/counted/${room}/__bench/stats`), cell.params.durationMs)
    return { ...figures, rowsWrittenPerPublish: counted.rowsWrittenPerPublish, rowsReadPerPublish: counted.rowsReadPerPublish, countedCpuUsPerPublish: counted.cpuUsPerPublish }
  },
}
