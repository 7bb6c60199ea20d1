import { SELF } from "cloudflare:test"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { InvalidInput, PayloadTooLarge, RoomDestroyed } from "../src/RealtimeError.js"
import { failureOf, runExit, runTest, service, uniqueId } from "./helpers.js"
import { login } from "./example-session.js"

// The "test" instance has maxPayloadBytes: 1024.
const cases: ReadonlyArray<{ readonly name: string; readonly input: unknown; readonly field: string; readonly tag?: string }> = [
  { name: "empty type", input: { type: "" }, field: "type" },
  { name: "over-long type", input: { type: "x".repeat(129) }, field: "type" },
  { name: "missing type", input: { data: 1 }, field: "type" },
  { name: "non-string type", input: { type: 42 }, field: "type" },
  { name: "non-JSON data (NaN)", input: { type: "t", data: Number.NaN }, field: "data" },
  { name: "non-JSON data (Date)", input: { type: "t", data: new Date(0) }, field: "data" },
  { name: "non-JSON data (Map)", input: { type: "t", data: new Map([["a", 1]]) }, field: "data" },
  { name: "metadata not an object", input: { type: "t", metadata: [1, 2] }, field: "metadata" },
  { name: "empty idempotency key", input: { type: "t", idempotencyKey: "" }, field: "idempotencyKey" },
  { name: "bad actor", input: { type: "t", actor: { type: "robot", id: "x" } }, field: "actor.type" },
  { name: "data over the size limit", input: { type: "t", data: "x".repeat(2000) }, field: "data", tag: "PayloadTooLarge" },
  { name: "metadata pushing over the limit", input: { type: "t", data: "x".repeat(600), metadata: { note: "y".repeat(600) } }, field: "data", tag: "PayloadTooLarge" },
]

describe("bad input gets a typed error naming the field and changes nothing", () => {
  for (const testCase of cases) {
    it(`publish: ${testCase.name}`, async () => {
      const room = service("test").room(uniqueId("bad"))
      await runTest(room.publish({ type: "before" }))
      const error = failureOf(await runExit(room.publish(testCase.input as never)))
      expect(error._tag).toBe(testCase.tag ?? "InvalidInput")
      expect((error as InvalidInput | PayloadTooLarge).field).toBe(testCase.field)
      expect(error.message).toContain(testCase.field.split(".")[0])
      const page = await runTest(room.history())
      expect(page.messages.map((m) => m.type)).toEqual(["before"])
      expect((await runTest(room.state())).lastSeq).toBe(1)
    })
  }

  const historyCases: ReadonlyArray<{ readonly name: string; readonly query: unknown }> = [
    { name: "limit 0", query: { limit: 0 } },
    { name: "limit over 1000", query: { limit: 1001 } },
    { name: "fractional limit", query: { limit: 2.5 } },
    { name: "garbage cursor", query: { cursor: "not-a-cursor!!" } },
    { name: "forged cursor", query: { cursor: btoa(JSON.stringify({ e: "other", s: 3, d: "b" })) } },
    { name: "cursor of the other direction", query: { cursor: btoa(JSON.stringify({ e: "x", s: 3, d: "f" })), direction: "backward" } },
    { name: "bad direction", query: { direction: "sideways" } },
  ]
  for (const testCase of historyCases) {
    it(`history: ${testCase.name}`, async () => {
      const channel = service("test").channel(uniqueId("bad-history"))
      await runTest(channel.publish({ type: "one" }))
      const error = failureOf(await runExit(channel.history(testCase.query as never)))
      expect(error._tag).toBe("InvalidInput")
      expect(["limit", "cursor", "direction"]).toContain((error as InvalidInput).field)
    })
  }

  it("an invalid room id is refused before any object is touched", async () => {
    for (const id of ["", "x".repeat(300), "bad\u0000id"]) {
      const error = failureOf(await runExit(service().room(id).publish({ type: "t" })))
      expect(error._tag).toBe("InvalidInput")
      expect((error as InvalidInput).field).toBe("id")
    }
  })

  it("metadata must be a plain JSON object", async () => {
    const room = service("test").room(uniqueId("bad-meta"))
    await runTest(room.metadata({ metadata: { ok: true } }))
    for (const metadata of [null, "text", [1], { when: new Date(0) }]) {
      const error = failureOf(await runExit(room.metadata({ metadata } as never)))
      expect(error._tag).toBe("InvalidInput")
      expect((error as InvalidInput).field).toBe("metadata")
    }
    expect((await runTest(room.metadata())).metadata).toEqual({ ok: true })
  })
})

describe("typed errors cross the Durable Object boundary as the same classes", () => {
  it("catchTag works on an error raised inside the actor", async () => {
    const room = service().room(uniqueId("typed"))
    await runTest(room.destroy())
    const error = failureOf(await runExit(room.publish({ type: "x" })))
    expect(error).toBeInstanceOf(RoomDestroyed)
    const recovered = await runTest(
      room.publish({ type: "x" }).pipe(Effect.catchTag("RoomDestroyed", (e) => Effect.succeed(`caught ${e.kind} ${e.id}`))),
    )
    expect(recovered).toMatch(/^caught room typed-/)
    const invalid = failureOf(await runExit(room.history({ limit: -1 })))
    expect(invalid).toBeInstanceOf(InvalidInput)
  })
})

describe("InvalidInput reads as sentences, with Schema's tree kept apart", () => {
  it("names each field and what was expected, one sentence per problem", async () => {
    const room = service("test").room(uniqueId("readable"))
    const missing = failureOf(await runExit(room.publish({ data: 1 } as never))) as InvalidInput
    expect(missing.message).toBe("type: is missing (a non-empty string of at most 128 characters)")
    expect(missing.issue).toContain('["type"]')
    expect(missing.issue).toContain("is missing")
    const wrongType = failureOf(await runExit(room.publish({ type: 42 } as never))) as InvalidInput
    expect(wrongType.message).toBe("type: expected a non-empty string of at most 128 characters, got 42")
    const actor = failureOf(await runExit(room.publish({ type: "t", actor: { type: "robot", id: "" } } as never))) as InvalidInput
    expect(actor.message).toBe('actor.type: expected one of "user", "client", "service", "anonymous", got "robot"; actor.id: must not be empty')
    const history = failureOf(await runExit(room.history({ limit: 0, direction: "up" } as never))) as InvalidInput
    expect(history.field).toBe("limit")
    expect(history.message).toBe('limit: must be between 1 and 1000; direction: expected one of "backward", "forward", got "up"')
    const presence = failureOf(await runExit(room.presence({ actor: { type: "user", id: "ada" } } as never))) as InvalidInput
    expect(presence.message).toBe("presence: is missing (a JSON object)")
    // No Schema type dump in the sentence a person reads.
    for (const error of [missing, wrongType, actor, history, presence]) expect(error.message).not.toMatch(/readonly|└─|Encoded side/)
  })

  it("an HTTP route answers the sentence, and the Schema tree in `issue`", async () => {
    const response = await SELF.fetch(`http://example.com/channels/${uniqueId("readable-http")}/events`, {
      method: "POST",
      headers: (await login("Readable")).headers(),
      body: JSON.stringify({ data: { ok: true } }),
    })
    expect(response.status).toBe(400)
    const body = (await response.json()) as { error: { _tag: string; field: string; message: string; issue?: string } }
    expect(body.error).toMatchObject({ _tag: "InvalidInput", field: "type", message: "type: is missing (a non-empty string of at most 128 characters)" })
    expect(body.error.issue).toContain("is missing")
  })
})
