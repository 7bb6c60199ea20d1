/**
 * S6: the actor of a request comes from the application (`identify`), never from what a client
 * sends, unless the application opts in to identity headers.
 */
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it, vi, type MockInstance } from "vitest"
import { CurrentRequest, Realtime, type Actor } from "../src/index.js"
import { runExit, failureOf, runTest, uniqueId } from "./helpers.js"
import { effectIdentifiedInstance, headerIdentityInstance, identifiedInstance, testInstance } from "./worker.js"

/** Every header a client could use to claim an identity under the default names. */
const spoofing = { "x-user-id": "ada", "x-user-name": "Ada", "x-client-id": "ada-laptop", "x-edge-user": "ada" }
const asRequest = (headers: Record<string, string>) => new Request("http://example.com/anything?user=ada&actor=service", { headers })

describe("S6 actors come from the application: no identify means no header trust", () => {
  it("without identify, identity headers, query and claims leave writes anonymous and joins refused (facade and Effect)", async () => {
    const roomId = uniqueId("no-identify")
    const request = asRequest(spoofing)
    const viaFacade = await testInstance.withRequest(request, () => testInstance.room(roomId).publish({ type: "a" }))
    expect(viaFacade.message.actor).toEqual({ type: "anonymous", id: "anonymous" })
    // A member needs an actor: an anonymous join is refused rather than attributed to the header's "ada".
    const joined = await testInstance.withRequest(request, () => testInstance.room(roomId).join({})).catch((error: unknown) => error)
    expect(joined).toMatchObject({ _tag: "InvalidInput", field: "actor" })
    expect((await testInstance.room(roomId).members()).count).toBe(0)
    const viaEffect = await runTest(
      Realtime.channel(uniqueId("no-identify-channel")).publish({ type: "b" }).pipe(Effect.provideService(CurrentRequest, request), Effect.provide(testInstance.layer)),
    )
    expect(viaEffect.message.actor).toEqual({ type: "anonymous", id: "anonymous" })
  })

  it("identityFromHeaders is an explicit opt-in, with the header names the app chose", async () => {
    const roomId = uniqueId("header-opt-in")
    const edge = await headerIdentityInstance.withRequest(asRequest({ "x-edge-user": "u_1", "x-edge-name": "Ada" }), () => headerIdentityInstance.room(roomId).publish({ type: "a" }))
    expect(edge.message.actor).toEqual({ type: "user", id: "u_1", name: "Ada" })
    // The default names mean nothing to this instance.
    const defaults = await headerIdentityInstance.withRequest(asRequest({ "x-user-id": "ada" }), () => headerIdentityInstance.room(roomId).publish({ type: "b" }))
    expect(defaults.message.actor).toEqual({ type: "anonymous", id: "anonymous" })
  })
})

describe("S6 actors come from the application: identify(request) decides, server code may still name an actor", () => {
  let errors: MockInstance<typeof console.error>
  beforeAll(() => {
    errors = vi.spyOn(console, "error").mockImplementation(() => undefined)
  })
  afterAll(() => errors.mockRestore())

  const as = (authorization: string, extra: Record<string, string> = {}) => asRequest({ authorization, ...extra, ...spoofing })
  const publishAs = (roomId: string, request: Request, input: { type: string; actor?: Actor } = { type: "chat" }) =>
    identifiedInstance.withRequest(request, () => identifiedInstance.room(roomId).publish(input))

  it("sync, async and Effect answers attribute publish, join, presence and channel writes; spoofed headers are ignored", async () => {
    const roomId = uniqueId("identify")
    for (const mode of ["sync", "async", "effect"]) {
      const { message } = await publishAs(roomId, as(`Test ${mode} bob`))
      expect(message.actor).toEqual({ type: "user", id: "bob", name: `${mode} bob` })
    }
    const request = as("Test sync bob")
    const joined = await identifiedInstance.withRequest(request, () => identifiedInstance.room(roomId).join({ metadata: { role: "editor" } }))
    expect(joined.member.actor.id).toBe("bob")
    const member = await identifiedInstance.withRequest(request, () => identifiedInstance.room(roomId).presence({ presence: { typing: true } }))
    expect(member.actor.id).toBe("bob")
    const channel = await identifiedInstance.withRequest(request, () => identifiedInstance.channel(uniqueId("identify-channel")).publish({ type: "deploy" }))
    expect(channel.message.actor.id).toBe("bob")
    // Effect handlers provide the request themselves.
    const viaEffect = await runTest(Realtime.room(roomId).publish({ type: "e" }).pipe(Effect.provideService(CurrentRequest, as("Test effect carol")), Effect.provide(identifiedInstance.layer)))
    expect(viaEffect.message.actor.id).toBe("carol")
    const members = await identifiedInstance.room(roomId).members()
    expect(members.members.map((m) => m.actor.id)).toEqual(["bob"])
  })

  it("identify may be an Effect that reads CurrentRequest itself", async () => {
    const roomId = uniqueId("identify-effect")
    const request = asRequest({ "x-test-session": "valid:carol", ...spoofing })
    const carol = await effectIdentifiedInstance.withRequest(request, () => effectIdentifiedInstance.room(roomId).publish({ type: "a" }))
    expect(carol.message.actor).toEqual({ type: "user", id: "carol" })
    const nobody = await effectIdentifiedInstance.withRequest(asRequest(spoofing), () => effectIdentifiedInstance.room(roomId).publish({ type: "b" }))
    expect(nobody.message.actor).toEqual({ type: "anonymous", id: "anonymous" })
  })

  it("no answer is anonymous; an explicit actor from server code wins", async () => {
    const roomId = uniqueId("identify-none")
    expect((await publishAs(roomId, as("Test none"))).message.actor).toEqual({ type: "anonymous", id: "anonymous" })
    expect((await publishAs(roomId, asRequest(spoofing))).message.actor).toEqual({ type: "anonymous", id: "anonymous" })
    const job = await publishAs(roomId, as("Test sync bob"), { type: "import", actor: { type: "service", id: "importer" } })
    expect(job.message.actor).toEqual({ type: "service", id: "importer" })
  })

  it("a typed refusal fails the write (401, nothing stored); a throw or a non-actor is a ConfigurationError, logged", async () => {
    const roomId = uniqueId("identify-fail")
    for (const mode of ["deny", "reject"]) {
      const failure = await publishAs(roomId, as(`Test ${mode} bob`)).catch((error: unknown) => error)
      expect(failure).toMatchObject({ _tag: "Unauthorized" })
    }
    for (const mode of ["throw", "garbage"]) {
      const failure = await publishAs(roomId, as(`Test ${mode} bob`)).catch((error: unknown) => error)
      expect(failure).toMatchObject({ _tag: "ConfigurationError", setting: "identify" })
    }
    const exit = await runExit(Realtime.room(roomId).publish({ type: "x" }).pipe(Effect.provideService(CurrentRequest, as("Test throw bob")), Effect.provide(identifiedInstance.layer)))
    expect(failureOf(exit)._tag).toBe("ConfigurationError")
    expect(errors.mock.calls.some((call) => String(call[0]).includes("identify threw"))).toBe(true)
    // Nothing was stored by any refused write.
    expect((await identifiedInstance.room(roomId).history()).messages).toHaveLength(0)
  })
})
