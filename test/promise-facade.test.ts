/**
 * The helper every Promise facade is built on (src/internal/PromiseFacade.ts): typed failures
 * reject as themselves, handles run each method's Effect, and a wrapped Worker handler sees its
 * request as the ambient one (after the facade's own routes had their turn).
 */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { ambientRequest, ambientWorker, promised, runToPromise } from "../src/internal/PromiseFacade.js"
import { RoomDestroyed } from "../src/RealtimeError.js"

const ctx = { waitUntil: () => {}, passThroughOnException: () => {}, props: {} } as unknown as ExecutionContext

describe("Promise facade helper", () => {
  it("resolves the value and rejects with the typed error instance itself", async () => {
    await expect(runToPromise(Effect.succeed(7))).resolves.toBe(7)
    const destroyed = new RoomDestroyed({ kind: "room", id: "r1", message: "room r1 was destroyed" })
    const rejected = await runToPromise(Effect.fail(destroyed)).catch((error: unknown) => error)
    expect(rejected).toBe(destroyed)
    await expect(runToPromise(Effect.die(new TypeError("boom")))).rejects.toThrow("boom")
  })

  it("turns a handle of Effect operations into Promise methods, building the handle per call", async () => {
    let built = 0
    const handle = promised(() => {
      built += 1
      return { double: (n: number) => Effect.succeed(n * 2), refuse: () => Effect.fail(new RoomDestroyed({ kind: "channel", id: "c", message: "gone" })) }
    })
    expect(built).toBe(0)
    await expect(handle.double(21)).resolves.toBe(42)
    await expect(handle.refuse()).rejects.toBeInstanceOf(RoomDestroyed)
    expect(built).toBe(2)
  })

  it("answers the facade's own routes first and runs the handler with its request ambient", async () => {
    const seen: Array<string | undefined> = []
    const worker = ambientWorker<unknown>(
      { fetch: (request) => (seen.push(ambientRequest()?.url), new Response(`handler ${new URL(request.url).pathname}`)) },
      async (request) => (new URL(request.url).pathname === "/own" ? new Response("own route") : undefined),
    )
    expect(await (await worker.fetch!(new Request("https://app.test/own"), {}, ctx)).text()).toBe("own route")
    expect(await (await worker.fetch!(new Request("https://app.test/other"), {}, ctx)).text()).toBe("handler /other")
    expect(seen).toEqual(["https://app.test/other"])
    expect(ambientRequest()).toBeUndefined()
  })
})
