// Persisted publish with 10% repeated idempotency keys: one publisher socket and 10 receiver
// sockets on one object, open-loop publishes; latency is publish (scheduled time) → the last
// receiver holding the message. The library's CPU and latency come from the unmodified
// RealtimeRoom; its rows come from a second pass of the same load on CountedRealtimeRoom.
import { closeAll, grantFor, openLoop, openMany, openSocket, sleep, waitFor } from "../harness/load.mjs"
import { latencyHistogram } from "../harness/stats.mjs"

const RECEIVERS = 10
const FAIR_FLOOR = "unique-idempotency"
const sizes = (quick) => (quick ? { rate: 150, durationMs: 1500 } : { rate: 150, durationMs: 4000 })

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

/** One measured pass: connect, publish open-loop, wait for every ack and delivery. */
export const pass = async ({ server, quick }, target, room, rows = async () => undefined) => {
  const { rate, durationMs } = sizes(quick)
  const total = Math.floor((durationMs / 1000) * rate)
  const scheduled = new Float64Array(total)
  const received = new Uint16Array(total) // deliveries per original publish, over all receivers
  const histogram = latencyHistogram()
  let acks = 0
  let duplicatesDelivered = 0
  const connect = []
  for (let index = 0; index <= RECEIVERS; index++) connect.push(await target.open(server, room, `u${index}`))
  const sockets = await openMany(
    RECEIVERS + 1,
    (index) =>
      connect[index]((data) => {
        const text = data.toString()
        if (index === 0) {
          if (text.startsWith('{"type":"ack"')) acks++
          return
        }
        const n = deliveredN(text)
        if (n === undefined) return
        received[n]++
        if (received[n] === RECEIVERS) histogram.record(performance.now() - scheduled[n])
        else if (received[n] > RECEIVERS) duplicatesDelivered++
      }),
    RECEIVERS + 1,
  )
  const [publisher] = sockets
  const originals = Array.from({ length: total }, (_, index) => index).filter((index) => !isDuplicate(index)).length
  const rowsBefore = await rows()
  const cpuBefore = await server.cpuMs()
  await openLoop({
    rate,
    durationMs,
    operation: (index, scheduledAt) => {
      scheduled[index] = scheduledAt
      publisher.send(frameFor(index))
    },
  })
  const complete = await waitFor(() => acks === total && histogram.count === originals, 30_000)
  await sleep(200) // stray duplicate deliveries, if a target makes them, arrive before the sample
  const cpuMs = (await server.cpuMs()) - cpuBefore
  const rowsAfter = await rows()
  await closeAll(sockets)
  if (!complete) throw new Error(`incomplete: ${acks}/${total} acks, ${histogram.count}/${originals} delivered to all`)
  return {
    cpuUsPerPublish: (cpuMs * 1000) / total,
    p50Ms: histogram.percentileMs(50),
    p99Ms: histogram.percentileMs(99),
    duplicatesDelivered: duplicatesDelivered / RECEIVERS,
    ...(rowsBefore === undefined
      ? {}
      : {
          rowsWrittenPerPublish: (rowsAfter.rowsWritten - rowsBefore.rowsWritten) / total,
          rowsReadPerPublish: (rowsAfter.rowsRead - rowsBefore.rowsRead) / total,
        }),
  }
}

const json = (url) => fetch(url).then((response) => response.json())

export default {
  name: "publish",
  title: "Persisted publish, 10% repeated idempotency keys",
  description: [
    "One publisher socket and 10 receiver sockets on one object; publishes open-loop (150/s for 4 s, 600 per run), every 10th repeating",
    "the idempotency key and body of an earlier one (a client retry: it must not be stored or delivered again). Payload `{n, text}` ≈ 50 B.",
    "CPU is the workerd CPU delta over the publish phase divided by all publishes; latency is scheduled publish time → the 10th receiver",
    "holding the message. Rows are the SQLite cursors' `rowsWritten`/`rowsRead` per publish. For this library, CPU and latency come from",
    "the unmodified `RealtimeRoom`; rows come from a second pass of the same load on `CountedRealtimeRoom` (bench/persist-library.ts,",
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
  timeoutMs: 120_000,
  cells: () => [
    { group: "10 receivers, 10% repeats", target: "durable-realtime room", floor: FAIR_FLOOR, params: { kind: "library" } },
    { group: "10 receivers, 10% repeats", target: "unique-idempotency", floor: FAIR_FLOOR, params: { kind: "floor", name: "unique-idempotency" } },
    { group: "10 receivers, 10% repeats", target: "insert-then-send", floor: "insert-then-send", params: { kind: "floor", name: "insert-send" } },
  ],
  run: async (context, cell) => {
    const suffix = `${context.run}-${Date.now()}`
    const base = context.server.url
    if (cell.params.kind === "floor") {
      const room = `publish-${cell.params.name}-${suffix}`
      return pass(context, floorTarget(cell.params.name), room, () => json(`${base}/floor/${cell.params.name}/${room}/stats`))
    }
    const { rowsWrittenPerPublish: _w, rowsReadPerPublish: _r, ...figures } = await pass(context, libraryTarget("bench"), `publish-lib-${suffix}`)
    // The same load again on the counted class, for rows only (its CPU includes the counting proxy).
    const room = `publish-counted-${suffix}`
    const counted = await pass(context, libraryTarget("bench-counted"), room, () => json(`${base}/bench-persist/counted/${room}/__bench/stats`))
    return { ...figures, rowsWrittenPerPublish: counted.rowsWrittenPerPublish, rowsReadPerPublish: counted.rowsReadPerPublish, countedCpuUsPerPublish: counted.cpuUsPerPublish }
  },
}
