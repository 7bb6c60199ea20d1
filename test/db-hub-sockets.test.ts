/**
 * Table hubs on the shared socket layer (src/sockets/, src/db/hub/HubSockets.ts): a change stream
 * takes no frames except ping, and its sockets get the same guards as room sockets — an error frame
 * per refused frame, closed with 1008 after repeated invalid frames, 1009 for an oversized one.
 */
import { describe, expect, it } from "vitest"
import { CloseCode } from "../src/RealtimeError.js"
import { postsGrant, subscribe, uid } from "./db-helpers.js"

describe("table hub sockets on the shared socket layer", () => {
  it("answers invalid frames with error frames, then closes with 1008 after five; a ping still gets a pong", async () => {
    const grant = await postsGrant({ tenantId: uid("t") })
    const socket = await subscribe(grant.url, grant.protocols)
    socket.send(' { "type" : "ping" } ')
    await socket.waitFor((frame) => frame.type === "pong")
    for (let n = 0; n < 5; n++) socket.send(`not a frame ${n}`)
    expect((await socket.closed).code).toBe(CloseCode.policy)
    expect(socket.frames.filter((frame) => frame.type === "error")).toHaveLength(5)
    expect(socket.frames.find((frame) => frame.type === "error")).toMatchObject({ tag: "InvalidInput" })
  })

  it("closes a socket that sends a frame over maxFrameBytes with 1009, after saying why", async () => {
    const grant = await postsGrant({ tenantId: uid("t") })
    const socket = await subscribe(grant.url, grant.protocols)
    socket.send("x".repeat(64 * 1024 + 1))
    expect((await socket.closed).code).toBe(CloseCode.tooBig)
    expect(socket.frames.find((frame) => frame.type === "error")).toMatchObject({ tag: "PayloadTooLarge" })
  })
})
