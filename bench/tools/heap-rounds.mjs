// Does the isolate's heap come back after sockets close and their objects are evicted? Rounds of
// fresh objects, each with `sockets` sockets and one message, closed and left 13 s to be evicted,
// then the V8 heap after GC (the idle-heap workload's method and V8 flags). A heap that grows
// round after round is memory that outlives its connections and objects (a leak); the first
// round also compiles the code the rounds use.
//   node bench/tools/heap-rounds.mjs [observedRoom|observedChannel|loop|partyHibernating] [sockets=300] [objects=1] [rounds=4]
import { startBenchServer } from "../harness/server.mjs"
import { openHeapProbe } from "../harness/heap.mjs"
import { closeAll, sleep } from "../harness/load.mjs"
import { connectTarget, payloadOf, publishFrame, settle } from "../workloads/fanoutClients.mjs"
import { V8_FLAGS } from "../workloads/idle-heap.mjs"

const [target = "observedRoom", sockets = "300", objects = "1", rounds = "4"] = process.argv.slice(2)
const EVICTED_AFTER_MS = 13_000

const server = await startBenchServer({ inspector: true, v8Flags: V8_FLAGS })
const probe = await openHeapProbe(server)
try {
  const start = await probe.afterGc()
  console.log(`${target}: ${rounds} rounds of ${objects} object(s) × ${sockets} socket(s); heap at start ${(start.usedBytes / 1024).toFixed(0)} KiB`)
  for (let round = 0; round < Number(rounds); round++) {
    for (let object = 0; object < Number(objects); object++) {
      let lastFrameAt = performance.now()
      const connected = await connectTarget(server, target, `heap-rounds-${round}-${object}-${Date.now()}`, Number(sockets) - 1, () => (lastFrameAt = performance.now()))
      connected.publisher.send(publishFrame(target, payloadOf(0, 64)))
      await settle(() => lastFrameAt, 300)
      await closeAll(connected.sockets)
    }
    await sleep(EVICTED_AFTER_MS)
    const heap = await probe.afterGc()
    console.log(`round ${round}: ${(heap.usedBytes / 1024).toFixed(0)} KiB, ${((heap.usedBytes - start.usedBytes) / 1024).toFixed(0)} KiB above the start`)
  }
} finally {
  probe.close()
  await server.stop()
}
