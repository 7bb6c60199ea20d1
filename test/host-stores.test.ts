/**
 * Each Durable Object kind builds only the stores its actor uses: an awake object keeps every
 * service its host built in its heap, and the store list of each kind (src/durable/*Object.ts)
 * is what keeps a room or channel from holding a table hub's, a directory's and a document's
 * stores too (bench/notes/idle-heap.md). Checked on real objects, after a real operation booted
 * them.
 */
import { env, runInDurableObject } from "cloudflare:test"
import { Context, Option, type Runtime } from "effect"
import { describe, expect, it } from "vitest"
import { objectName } from "../src/internal/rpc.js"
import { ChannelMembershipStore } from "../src/storage/ChannelMembershipStore.js"
import { DirectoryStore } from "../src/storage/DirectoryStore.js"
import { HubChangeStore } from "../src/storage/HubChangeStore.js"
import { MemberStore } from "../src/storage/MemberStore.js"
import { MessageStore } from "../src/storage/MessageStore.js"
import { SnapshotStore } from "../src/storage/SnapshotStore.js"
import { YjsDocumentStore } from "../src/storage/YjsDocumentStore.js"
import { ActorFacts } from "../src/storage/ActorFacts.js"
import { runTest, service, uniqueId } from "./helpers.js"

const STORES = { ActorFacts, MessageStore, MemberStore, SnapshotStore, YjsDocumentStore, HubChangeStore, ChannelMembershipStore, DirectoryStore }

/** The names of the stores in a booted object's runtime (the host's `hosted()` is protected: tests reach it as the runtime does). */
const storesOf = (stub: DurableObjectStub) =>
  runInDurableObject(stub, async (instance) => {
    const hosted = await (instance as unknown as { hosted(): Promise<{ readonly runtime: Runtime.Runtime<never> } | undefined> }).hosted()
    if (hosted === undefined) throw new Error("the object was not booted")
    const context = hosted.runtime.context as Context.Context<unknown>
    return Object.entries(STORES)
      .filter(([, tag]) => Option.isSome(Context.getOption(context, tag as Context.Tag<unknown, unknown>)))
      .map(([name]) => name)
      .sort()
  })

const stubOf = (binding: "REALTIME_ROOMS" | "REALTIME_CHANNELS", kind: "room" | "channel", id: string) => {
  const namespace = (env as unknown as Record<string, DurableObjectNamespace>)[binding]!
  return namespace.get(namespace.idFromName(objectName("test", kind, id)))
}

describe("each object kind builds only the stores it declares", () => {
  it("a channel holds its facts and message log, nothing of a room, document, hub or directory", async () => {
    const id = uniqueId("stores-channel")
    await runTest(service().channel(id).publish({ type: "boot" }))
    expect(await storesOf(stubOf("REALTIME_CHANNELS", "channel", id))).toEqual(["ActorFacts", "MessageStore"])
  })

  it("a room holds its facts, message log, members and snapshots, nothing of a document, hub or directory", async () => {
    const id = uniqueId("stores-room")
    await runTest(service().room(id).publish({ type: "boot" }))
    expect(await storesOf(stubOf("REALTIME_ROOMS", "room", id))).toEqual(["ActorFacts", "MemberStore", "MessageStore", "SnapshotStore"])
  })
})
