import { SELF } from "cloudflare:test"
import { describe, expect, it } from "vitest"
import { uniqueId } from "./helpers.js"
import { login } from "./example-session.js"

describe("the example worker", () => {
  it("POST /rooms/:id/messages publishes the body as a message.created message of the logged-in user (Effect route), GET pages history", async () => {
    const roomId = uniqueId("example-room")
    const user = await login("User 1")
    const response = await SELF.fetch(`http://example.com/rooms/${roomId}/messages`, {
      method: "POST",
      headers: user.headers(),
      body: JSON.stringify({ body: "I can help with that." }),
    })
    expect(response.status).toBe(201)
    const body = (await response.json()) as { message: { seq: number; type: string; data: unknown; actor: { id: string } }; duplicate: boolean }
    expect(body).toMatchObject({ duplicate: false, message: { seq: 1, type: "message.created", data: { body: "I can help with that." } } })
    expect(body.message.actor.id).toBe(user.actor.id)
    const history = await SELF.fetch(`http://example.com/rooms/${roomId}/messages?limit=10`)
    expect(((await history.json()) as { messages: Array<unknown> }).messages).toHaveLength(1)
  })

  it("bad input gets its HTTP status and a typed error body", async () => {
    const headers = (await login("Bad Input")).headers()
    for (const body of ["{ not json", '{"data":{"__proto__":{"x":1}}}']) {
      const response = await SELF.fetch(`http://example.com/rooms/${uniqueId("example-bad")}/messages`, { method: "POST", headers, body })
      expect(response.status).toBe(400)
      const error = (await response.json()) as { error: { _tag: string } }
      expect(error.error._tag).toBe("InvalidInput")
    }
  })

  it("channel feed: publish with an Idempotency-Key header and read history with a cursor (Promise routes)", async () => {
    const channelId = uniqueId("example-feed")
    const user = await login("Deployer")
    for (let i = 0; i < 5; i++) {
      const response = await SELF.fetch(`http://example.com/channels/${channelId}/events`, {
        method: "POST",
        headers: user.headers({ "idempotency-key": `deploy-${i}` }),
        body: JSON.stringify({ type: "deploy.finished", data: { i } }),
      })
      expect(response.status).toBe(201)
    }
    const duplicate = await SELF.fetch(`http://example.com/channels/${channelId}/events`, {
      method: "POST",
      headers: user.headers({ "idempotency-key": "deploy-0" }),
      body: JSON.stringify({ type: "deploy.finished", data: { i: 0 } }),
    })
    expect(duplicate.status).toBe(200)
    const first = (await (await SELF.fetch(`http://example.com/channels/${channelId}/history?limit=3`)).json()) as {
      messages: Array<{ data: { i: number } }>
      nextCursor: string
    }
    expect(first.messages.map((m) => m.data.i)).toEqual([4, 3, 2])
    const second = (await (
      await SELF.fetch(`http://example.com/channels/${channelId}/history?limit=3&cursor=${encodeURIComponent(first.nextCursor)}`)
    ).json()) as { messages: Array<{ data: { i: number } }>; nextCursor: string | null }
    expect(second.messages.map((m) => m.data.i)).toEqual([1, 0])
    expect(second.nextCursor).toBeNull()
    const bad = await SELF.fetch(`http://example.com/channels/${channelId}/history?cursor=garbage`)
    expect(bad.status).toBe(400)
  })
})
