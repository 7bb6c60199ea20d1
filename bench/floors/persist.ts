/**
 * Raw floors for persisted publish and history paging: plain Durable Objects, no Effect, no
 * Schema. Each counts the rows its SQL cursors report (`rowsRead`/`rowsWritten`) and answers
 * them on `GET .../stats`, so the benchmark can report rows per operation.
 *
 * - `InsertThenSendFloor`: INSERT the message, then `ws.send` to every socket (no idempotency:
 *   a repeated key is stored and delivered again).
 * - `UniqueIdempotencyFloor`: INSERT with a UNIQUE idempotency column, `ON CONFLICT DO NOTHING`,
 *   send only when a row was written.
 * - `KeysetHistoryFloor`: pages `WHERE seq < ? ORDER BY seq DESC LIMIT ?` (or forward), seeded in
 *   batches by a bench-only route.
 */
import { DurableObject } from "cloudflare:workers"

type Counters = { rowsRead: number; rowsWritten: number }

abstract class CountingFloor extends DurableObject {
  protected readonly counters: Counters = { rowsRead: 0, rowsWritten: 0 }

  /** One statement, its cursor drained, its rows added to the counters. */
  protected exec<R extends Record<string, SqlStorageValue>>(query: string, ...params: Array<SqlStorageValue>) {
    const cursor = this.ctx.storage.sql.exec<R>(query, ...params)
    const rows = cursor.toArray()
    this.counters.rowsRead += cursor.rowsRead
    this.counters.rowsWritten += cursor.rowsWritten
    return { rows, rowsWritten: cursor.rowsWritten }
  }

  protected statsResponse(url: URL): Response | undefined {
    return url.pathname.endsWith("/stats") ? Response.json(this.counters) : undefined
  }
}

/** Publish floors share the socket handling: accept (hibernating), cache the socket list, parse the frame. */
abstract class PublishFloor extends CountingFloor {
  #sockets: Array<WebSocket> | undefined

  protected sockets(): Array<WebSocket> {
    this.#sockets ??= this.ctx.getWebSockets()
    return this.#sockets
  }

  override async fetch(request: Request): Promise<Response> {
    const stats = this.statsResponse(new URL(request.url))
    if (stats !== undefined) return stats
    const pair = new WebSocketPair()
    this.ctx.acceptWebSocket(pair[1])
    this.#sockets = undefined
    return new Response(null, { status: 101, webSocket: pair[0] })
  }

  protected abstract store(message: { data?: unknown; idempotencyKey?: string }, payload: string): number | undefined

  override webSocketMessage(socket: WebSocket, raw: string | ArrayBuffer) {
    const frame = JSON.parse(raw as string) as { id?: string; message: { type: string; data?: unknown; idempotencyKey?: string } }
    const payload = JSON.stringify(frame.message)
    const seq = this.store(frame.message, payload)
    if (seq !== undefined) {
      const out = `{"type":"message","message":{"seq":${seq},"payload":${payload}}}`
      for (const each of this.sockets()) each.send(out)
    }
    socket.send(JSON.stringify({ type: "ack", id: frame.id, seq: seq ?? null, duplicate: seq === undefined }))
  }

  override webSocketClose(socket: WebSocket, code: number) {
    this.#sockets = undefined
    socket.close(code, "closing")
  }
}

export class InsertThenSendFloor extends PublishFloor {
  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env as never)
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS messages (seq INTEGER PRIMARY KEY, payload TEXT NOT NULL)")
  }

  protected store(_message: unknown, payload: string) {
    return this.exec<{ seq: number }>("INSERT INTO messages (payload) VALUES (?) RETURNING seq", payload).rows[0]!.seq
  }
}

export class UniqueIdempotencyFloor extends PublishFloor {
  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env as never)
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS messages (seq INTEGER PRIMARY KEY, payload TEXT NOT NULL, idempotency_key TEXT UNIQUE)")
  }

  protected store(message: { idempotencyKey?: string }, payload: string) {
    const inserted = this.exec<{ seq: number }>(
      "INSERT INTO messages (payload, idempotency_key) VALUES (?, ?) ON CONFLICT DO NOTHING RETURNING seq",
      payload,
      message.idempotencyKey ?? null,
    )
    return inserted.rows[0]?.seq
  }
}

export class KeysetHistoryFloor extends CountingFloor {
  override async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url)
    const stats = this.statsResponse(url)
    if (stats !== undefined) return stats
    if (url.pathname.endsWith("/seed")) return this.seed(url)
    const limit = Number(url.searchParams.get("limit") ?? 50)
    const cursor = url.searchParams.get("cursor")
    const forward = url.searchParams.get("direction") === "forward"
    // One row more than the page tells whether another page follows.
    const { rows } = forward
      ? this.exec<{ seq: number; payload: string }>("SELECT seq, payload FROM messages WHERE seq > ? ORDER BY seq ASC LIMIT ?", Number(cursor ?? 0), limit + 1)
      : this.exec<{ seq: number; payload: string }>(
          "SELECT seq, payload FROM messages WHERE seq < ? ORDER BY seq DESC LIMIT ?",
          cursor === null ? Number.MAX_SAFE_INTEGER : Number(cursor),
          limit + 1,
        )
    const page = rows.slice(0, limit)
    const messages = page.map((row) => ({ seq: row.seq, ...JSON.parse(row.payload) }))
    return Response.json({ messages, nextCursor: rows.length > limit ? String(page[page.length - 1]!.seq) : null })
  }

  /** Bench-only: `POST .../seed?from=&to=` inserts rows `from..to` (one statement), not counted. */
  private seed(url: URL): Response {
    const from = Number(url.searchParams.get("from"))
    const to = Number(url.searchParams.get("to"))
    const sql = this.ctx.storage.sql
    sql.exec("CREATE TABLE IF NOT EXISTS messages (seq INTEGER PRIMARY KEY, payload TEXT NOT NULL)")
    // The payload is the same message the library stores for that seq, so page sizes in bytes match.
    sql.exec(
      `WITH RECURSIVE n(x) AS (SELECT ? UNION ALL SELECT x + 1 FROM n WHERE x < ?)
       INSERT INTO messages (seq, payload)
       SELECT x, '{"id":"msg_seed_' || x || '","type":"m","data":{"n":' || x || ',"text":"seeded history message"},"actor":{"type":"user","id":"seed"},"createdAt":"2026-01-01T00:00:00.000Z"}' FROM n`,
      from,
      to,
    )
    const total = sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM messages").one().n
    return Response.json({ rows: total })
  }
}
