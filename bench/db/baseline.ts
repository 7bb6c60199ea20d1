/**
 * The raw baseline of the database benchmark: a minimal Durable Object that, in one turn, inserts
 * a row and its outbox row in one transaction, sends the change to every WebSocket it holds, and
 * marks the outbox row published. No Effect, no Schema, no hub, no RPC hop between shard and hub:
 * the floor the library's commit-to-delivery latency is compared with.
 */
import { DurableObject } from "cloudflare:workers"

export class RawOutboxBaseline extends DurableObject {
  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env as never)
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS posts (id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, title TEXT NOT NULL)")
    ctx.storage.sql.exec(
      "CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, row TEXT NOT NULL, created_at INTEGER NOT NULL, published_at INTEGER)",
    )
  }

  override async fetch(): Promise<Response> {
    const pair = new WebSocketPair()
    this.ctx.acceptWebSocket(pair[1])
    return new Response(null, { status: 101, webSocket: pair[0] })
  }

  write(row: { id: string; tenantId: string; title: string }): number {
    const createdAt = Date.now()
    const outboxId = this.ctx.storage.transactionSync(() => {
      this.ctx.storage.sql.exec("INSERT INTO posts (id, tenant_id, title) VALUES (?, ?, ?)", row.id, row.tenantId, row.title)
      return this.ctx.storage.sql.exec<{ id: number }>("INSERT INTO outbox (row, created_at) VALUES (?, ?) RETURNING id", JSON.stringify(row), createdAt).one().id
    })
    const frame = JSON.stringify({ type: "database.change", seq: outboxId, event: "insert", key: row.id, old: null, new: row, createdAt: new Date(createdAt).toISOString() })
    for (const socket of this.ctx.getWebSockets()) socket.send(frame)
    this.ctx.storage.sql.exec("UPDATE outbox SET published_at = ? WHERE id = ?", Date.now(), outboxId)
    return outboxId
  }
}
