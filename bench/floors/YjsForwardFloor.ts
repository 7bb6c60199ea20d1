/**
 * Floor for Yjs editing: the simplest Durable Object that does what a CRDT room must do per
 * update. Hibernating sockets; per binary update message it applies the update to an in-memory
 * Y.Doc, INSERTs the update's bytes into SQLite (the library persists every update, so the floor
 * does too), and forwards the ORIGINAL frame to every other socket (never the author). Sync step 1
 * is answered with step 2 from its doc. No validation, no Effect, no Schema.
 *
 * With `?memory` on the connecting URL (the "apply-only" floor of yjs-ingest) it only applies:
 * no INSERT, no forward. Not durable: it measures what receiving and applying a frame costs
 * (the runtime's per-frame work included), below which no server can go.
 */
import { DurableObject } from "cloudflare:workers"
import * as decoding from "lib0/decoding"
import * as encoding from "lib0/encoding"
import * as Y from "yjs"

const SYNC = 0
const STEP1 = 0
const STEP2 = 1
const UPDATE = 2

const syncFrame = (step: number, payload: Uint8Array) => {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, SYNC)
  encoding.writeVarUint(encoder, step)
  encoding.writeVarUint8Array(encoder, payload)
  return encoding.toUint8Array(encoder)
}

export class YjsForwardFloor extends DurableObject {
  private readonly doc = new Y.Doc()
  private readonly sql: SqlStorage
  // Set by the connecting URL (memory only: a run does not outlive the object's memory).
  private memoryOnly = false

  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env as never)
    this.sql = ctx.storage.sql
    this.sql.exec("CREATE TABLE IF NOT EXISTS updates (seq INTEGER PRIMARY KEY, bytes BLOB NOT NULL)")
    // After a hibernation wake the doc is rebuilt from the stored updates.
    for (const row of this.sql.exec<{ bytes: ArrayBuffer }>("SELECT bytes FROM updates ORDER BY seq")) {
      Y.applyUpdate(this.doc, new Uint8Array(row.bytes))
    }
  }

  override async fetch(request: Request): Promise<Response> {
    if (new URL(request.url).pathname.endsWith("/stats")) {
      const row = this.sql.exec<{ rows: number; bytes: number | null }>("SELECT COUNT(*) AS rows, SUM(LENGTH(bytes)) AS bytes FROM updates").one()
      return Response.json({ rows: row.rows, storedBytes: row.bytes ?? 0, encodedBytes: Y.encodeStateAsUpdate(this.doc).byteLength })
    }
    if (new URL(request.url).searchParams.has("memory")) this.memoryOnly = true
    const pair = new WebSocketPair()
    this.ctx.acceptWebSocket(pair[1])
    pair[1].send(syncFrame(STEP1, Y.encodeStateVector(this.doc)))
    return new Response(null, { status: 101, webSocket: pair[0] })
  }

  override async webSocketMessage(socket: WebSocket, message: ArrayBuffer | string): Promise<void> {
    if (typeof message === "string") return
    const frame = new Uint8Array(message)
    const decoder = decoding.createDecoder(frame)
    if (decoding.readVarUint(decoder) !== SYNC) return // awareness is not part of this workload
    const step = decoding.readVarUint(decoder)
    const payload = decoding.readVarUint8Array(decoder)
    if (step === STEP1) {
      socket.send(syncFrame(STEP2, Y.encodeStateAsUpdate(this.doc, payload)))
      return
    }
    if (step !== STEP2 && step !== UPDATE) return
    // A fresh client's step 2 is the empty update (2 bytes): nothing to apply or store.
    if (step === STEP2 && payload.byteLength <= 2) return
    Y.applyUpdate(this.doc, payload)
    if (this.memoryOnly) return
    this.sql.exec("INSERT INTO updates (bytes) VALUES (?)", payload)
    if (step !== UPDATE) return
    for (const other of this.ctx.getWebSockets()) {
      if (other !== socket) other.send(frame)
    }
  }

  override async webSocketClose(socket: WebSocket, code: number): Promise<void> {
    socket.close(code === 1005 || code === 1006 ? 1000 : code)
  }
}
