/**
 * Helpers for CRDT room tests: a Yjs client speaking the y-websocket protocol over a real
 * WebSocket through the test Worker, and HTTP-side helpers.
 */
import { env, SELF } from "cloudflare:test"
import * as awarenessProtocol from "y-protocols/awareness"
import * as syncProtocol from "y-protocols/sync"
import * as decoding from "lib0/decoding"
import * as encoding from "lib0/encoding"
import * as Y from "yjs"
import { instanceConfig } from "../src/Config.js"
import { objectName } from "../src/internal/rpc.js"
import { makeRealtime } from "../src/Realtime.js"
import { fromBase64, toBase64 } from "../src/actors/crdt/Base64.js"
import type { CrdtGrant } from "../src/schema/LiveGrant.js"
import { runTest } from "./helpers.js"
import { eventually } from "./live-helpers.js"
import "./worker.js"

export { toBase64, fromBase64 }

/** The Realtime service of the `crdttest` instance. */
export const crdtService = () => makeRealtime(instanceConfig("crdttest"), env as unknown as Record<string, unknown>)

export const crdtGrant = (roomId: string, actorId: string, permissions?: ReadonlyArray<"read" | "write" | "presence" | "publish">, ttlSeconds = 60) =>
  runTest(crdtService().crdtRoom(roomId).authorize({ actor: { type: "user", id: actorId }, ttlSeconds, ...(permissions === undefined ? {} : { permissions }) }))

export const crdtStub = (id: string, instance = "crdttest"): DurableObjectStub => {
  const namespace = (env as unknown as { REALTIME_CRDT_ROOMS: DurableObjectNamespace }).REALTIME_CRDT_ROOMS
  return namespace.get(namespace.idFromName(objectName(instance, "crdtRoom", id)))
}

/** An update of `doc` made by `edit`, as the client would send it. */
export const editUpdate = (doc: Y.Doc, edit: (doc: Y.Doc) => void): Uint8Array => {
  const before = Y.encodeStateVector(doc)
  edit(doc)
  return Y.encodeStateAsUpdate(doc, before)
}

export interface YjsClient {
  readonly doc: Y.Doc
  readonly awareness: awarenessProtocol.Awareness
  readonly socket: WebSocket
  /** Raw frames received, in order. */
  readonly received: Array<Uint8Array>
  /** Updates received from the server (sync step 2 and updates). */
  readonly updates: Array<Uint8Array>
  readonly closed: Promise<{ code: number; reason: string }>
  readonly synced: Promise<void>
  readonly sendRaw: (bytes: Uint8Array | string) => void
  readonly close: () => void
}

/**
 * Connect a Y.Doc like y-websocket's provider does: answer the server's step 1, send our own,
 * forward local updates and awareness, apply what arrives.
 */
export const connectYjs = async (grant: CrdtGrant, options: { readonly doc?: Y.Doc } = {}): Promise<YjsClient> => {
  const response = await SELF.fetch(`http://example.com${grant.yjs.url}`, {
    headers: { Upgrade: "websocket", "Sec-WebSocket-Protocol": grant.yjs.protocols.join(", ") },
  })
  const socket = response.webSocket
  if (socket === null) throw new Error(`y-websocket refused: ${response.status} ${await response.text()}`)
  // As y-websocket does: binary frames as ArrayBuffers (the runtime's default is Blob).
  socket.binaryType = "arraybuffer"
  const doc = options.doc ?? new Y.Doc()
  const awareness = new awarenessProtocol.Awareness(doc)
  const received: Array<Uint8Array> = []
  const updates: Array<Uint8Array> = []
  let resolveClosed: (value: { code: number; reason: string }) => void = () => undefined
  const closed = new Promise<{ code: number; reason: string }>((resolve) => (resolveClosed = resolve))
  let resolveSynced: () => void = () => undefined
  const synced = new Promise<void>((resolve) => (resolveSynced = resolve))
  const send = (bytes: Uint8Array | string) => {
    try {
      socket.send(bytes)
    } catch {
      // closed
    }
  }
  socket.addEventListener("message", (event) => {
    const bytes = new Uint8Array(event.data as ArrayBuffer)
    received.push(bytes)
    const decoder = decoding.createDecoder(bytes)
    const type = decoding.readVarUint(decoder)
    if (type === 0) {
      const encoder = encoding.createEncoder()
      encoding.writeVarUint(encoder, 0)
      const step = decoding.peekVarUint(decoder)
      if (step !== syncProtocol.messageYjsSyncStep1) {
        const copy = decoding.createDecoder(bytes)
        decoding.readVarUint(copy)
        decoding.readVarUint(copy)
        updates.push(decoding.readVarUint8Array(copy))
      }
      syncProtocol.readSyncMessage(decoder, encoder, doc, "server")
      if (encoding.length(encoder) > 1) send(encoding.toUint8Array(encoder))
      if (step === syncProtocol.messageYjsSyncStep2) resolveSynced()
    } else if (type === 1) {
      awarenessProtocol.applyAwarenessUpdate(awareness, decoding.readVarUint8Array(decoder), "server")
    }
  })
  socket.addEventListener("close", (event) => {
    awareness.destroy()
    resolveClosed({ code: event.code, reason: event.reason })
  })
  socket.accept()
  doc.on("update", (update: Uint8Array, origin: unknown) => {
    if (origin === "server") return
    const encoder = encoding.createEncoder()
    encoding.writeVarUint(encoder, 0)
    syncProtocol.writeUpdate(encoder, update)
    send(encoding.toUint8Array(encoder))
  })
  awareness.on("update", ({ added, updated, removed }: { added: number[]; updated: number[]; removed: number[] }, origin: unknown) => {
    if (origin === "server") return
    const encoder = encoding.createEncoder()
    encoding.writeVarUint(encoder, 1)
    encoding.writeVarUint8Array(encoder, awarenessProtocol.encodeAwarenessUpdate(awareness, [...added, ...updated, ...removed]))
    send(encoding.toUint8Array(encoder))
  })
  const step1 = encoding.createEncoder()
  encoding.writeVarUint(step1, 0)
  syncProtocol.writeSyncStep1(step1, doc)
  send(encoding.toUint8Array(step1))
  return {
    doc,
    awareness,
    socket,
    received,
    updates,
    closed,
    synced,
    sendRaw: send,
    close: () => {
      try {
        socket.close(1000, "done")
      } catch {
        // closed
      }
    },
  }
}

/** Wait until `check` holds. */
export const until = (check: () => boolean, what: string, timeoutMs = 3000) => eventually(() => (check() ? true : undefined), timeoutMs, what)
