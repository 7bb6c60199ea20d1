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

// A fresh instance: its stats() count this test's room only.
const instance = uniqueId("spacing")
const rt = makeRealtime(declareRealtime({ name: instance }).config, env as unknown as Record<string, unknown>)

const directoryJobAt = (roomId: string) =>
  runInDurableObject(stubFor(instance, "room", roomId), (_instance, state) =>
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
})
