/**
 * One partition's stream (`db/hub/HubStream.ts`, the code of table hubs and of shard-hosted
 * streams alike), over the in-memory buffer: how it bounds its buffer.
 */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { loadHubStream, trimSlack } from "../src/db/hub/HubStream.js"
import type { ShardChange } from "../src/db/Protocol.js"
import * as HubChangeStore from "../src/storage/HubChangeStore.js"
import { testDb } from "./db-helpers.js"

const change = (outboxId: number): ShardChange => ({ shard: 0, outboxId, table: "posts", event: "insert", old: null, new: { id: `p${outboxId}` }, requestId: "r", createdAt: 0 })

describe("a partition's stream", () => {
  it("trims its buffer back to bufferSize once it holds trimSlack more, not on every change past bufferSize", async () => {
    const bufferSize = 64
    const definition = { ...testDb.definition, bufferSize }
    const store = HubChangeStore.makeMemory()
    let trims = 0
    const counted = {
      ...store,
      append: (rows: ReadonlyArray<HubChangeStore.BufferedChange>, trim: HubChangeStore.Trim) => {
        if (trim.through > 0) trims++
        return store.append(rows, trim)
      },
      // The stream's synchronous path (what `apply` runs).
      appendNow: (rows: ReadonlyArray<HubChangeStore.BufferedChange>, trim: HubChangeStore.Trim) => {
        if (trim.through > 0) trims++
        return store.appendNow(rows, trim)
      },
    }
    const result = await Effect.runPromise(
      Effect.gen(function* () {
        const stream = yield* loadHubStream({ definition, store: counted, subscribers: () => [] })
        const held: Array<number> = []
        for (let id = 1; id <= 200; id++) {
          yield* stream.apply({ changes: [change(id)] })
          held.push(stream.buffered())
        }
        return { held, facts: yield* store.load }
      }),
    )
    const slack = trimSlack(bufferSize)
    expect(slack).toBe(2)
    // Never fewer than bufferSize once that many arrived, never more than bufferSize + slack.
    expect(Math.min(...result.held.slice(bufferSize - 1))).toBe(bufferSize)
    expect(Math.max(...result.held)).toBe(bufferSize + slack)
    // 200 changes: a trim each time the buffer reaches 67 (every third change past 66), not 136 trims.
    expect(trims).toBe(Math.floor((200 - bufferSize) / (slack + 1)))
    expect(result.facts.lastSeq).toBe(200)
    expect(result.facts.lastSeq! - result.facts.firstSeq! + 1).toBe(result.held[result.held.length - 1])
  })
})
