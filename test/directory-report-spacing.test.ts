/**
 * Directory reports of a room that keeps changing are spaced (`DIRECTORY_REPORT_SPACING_MS`): the
 * first change after a quiet spell is reported within `DIRECTORY_REPORT_DELAY_MS`, a change soon
 * after a report waits until the spacing has passed since it, and the directory still ends up with
 * the latest figures.
 */
import { env, runInDurableObject } from "cloudflare:test"
import { describe, expect, it } from "vitest"
import { declareRealtime } from "../src/Config.js"
import { makeRealtime } from "../src/Realtime.js"
import { DIRECTORY_REPORT_DELAY_MS, DIRECTORY_REPORT_SPACING_MS } from "../src/services/Directory.js"
import { runTest, uniqueId } from "./helpers.js"
import { eventually, stubFor } from "./live-helpers.js"

// Fresh instances: their stats() count one test's room only.
const instance = uniqueId("spacing")
const rt = makeRealtime(declareRealtime({ name: instance }).config, env as unknown as Record<string, unknown>)
const busyInstance = uniqueId("busy-reports")
const busy = makeRealtime(declareRealtime({ name: busyInstance }).config, env as unknown as Record<string, unknown>)

const directoryJobAt = (roomId: string, of = instance) =>
  runInDurableObject(stubFor(of, "room", roomId), (_instance, state) =>
    state.storage.sql.exec<{ run_at: number }>("SELECT run_at FROM _jobs WHERE name = 'directory'").toArray()[0]?.run_at,
  )

describe("directory reports of a busy room", () => {
  it("the first change is reported within the delay; one right after that report waits for the spacing; the directory gets the last figures", async () => {
    const roomId = uniqueId("report-spacing")
    const room = rt.room(roomId)
    const firstAt = Date.now()
    await runTest(room.publish({ type: "n", data: 1 }))
    const first = await directoryJobAt(roomId)
    expect(first).toBeGreaterThanOrEqual(firstAt + DIRECTORY_REPORT_DELAY_MS)
    expect(first).toBeLessThanOrEqual(Date.now() + DIRECTORY_REPORT_DELAY_MS)
    // The report runs (its job row goes), at or after `first`.
    await eventually(async () => ((await directoryJobAt(roomId)) === undefined ? true : undefined), 3000, "the first report")
    await runTest(room.publish({ type: "n", data: 2 }))
    // Not 200 ms after this publish: a spacing after the report, which ran no sooner than `first`.
    expect(await directoryJobAt(roomId)).toBeGreaterThanOrEqual(first! + DIRECTORY_REPORT_SPACING_MS)
    const stats = await eventually(async () => {
      const now = await runTest(rt.stats())
      return now.messages === 2 ? now : undefined
    }, 4000, "the directory to hold 2 messages")
    expect(stats).toMatchObject({ rooms: 1, messages: 2 })
  })

  it("a room reporting back to back keeps its job for the next report (later publishes schedule nothing); once nothing changed, the job ends", async () => {
    const roomId = uniqueId("busy-report")
    const room = busy.room(roomId)
    const jobAt = () => directoryJobAt(roomId, busyInstance)
    await runTest(room.publish({ type: "n", data: 1 }))
    // The first report after a quiet spell ends its job, as before.
    await eventually(async () => ((await jobAt()) === undefined ? true : undefined), 3000, "the first report")
    await runTest(room.publish({ type: "n", data: 2 }))
    const second = await jobAt()
    expect(second).toBeDefined()
    // The second report comes one spacing after the first: the room is busy, so its job moves on instead of ending.
    const followUp = await eventually(async () => {
      const at = await jobAt()
      return at !== undefined && at > second! ? at : undefined
    }, 4000, "the directory job moved to the next report time")
    expect(followUp).toBeGreaterThanOrEqual(second! + DIRECTORY_REPORT_SPACING_MS)
    // A publish meanwhile finds the report in hand: the job keeps its time.
    await runTest(room.publish({ type: "n", data: 3 }))
    expect(await jobAt()).toBe(followUp)
    const stats = await eventually(async () => {
      const now = await runTest(busy.stats())
      return now.messages === 3 ? now : undefined
    }, 4000, "the directory to hold 3 messages")
    expect(stats).toMatchObject({ rooms: 1, messages: 3 })
    // Nothing changes any more: the next follow-up has nothing to send and ends the job.
    await eventually(async () => ((await jobAt()) === undefined ? true : undefined), 4000, "the job to end once the room is quiet")
    expect(await runTest(busy.stats())).toMatchObject({ rooms: 1, messages: 3 })
  })
})
