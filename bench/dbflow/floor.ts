/**
 * The `row + outbox floor` of the db workload: the simplest Durable Object that does what a
 * database change stream must do, in one turn: insert the row and its outbox row in one
 * transaction, send the change frame to every socket it holds (hibernation API), and mark the
 * outbox row published. No Effect, no Schema, no hub, no RPC hop. (Adapted from bench/db/baseline.ts.)
 *
 * `/floor/dbflow/{id}/ws` (upgrade), `POST .../write` (a JSON row; RPC `write(row)`, `writeMany(rows)`), `GET .../rows` (rows written
 * since the last call, from SQLite's rowsWritten; resets). The two-hop floor's first hop: `POST .../write-via-hub`, RPC
 * `writeViaHub(row, hub)` (floorTwoHop.ts).
 */
import { DurableObject } from "cloudflare:workers"
import { countRows } from "./counted.js"

interface Row {
  readonly id: string
  readonly tenantId: string
  readonly title: string
}

/** The second hop of the two-hop floor (floorTwoHop.ts), as this object calls it. */
interface HubFloorStub {
  publish(outboxId: number, createdAt: number, key: string, row: string): Promise<number>
}

export class DbflowOutboxFloor extends DurableObject {
  #sockets: Array<WebSocket> | undefined
  /** Rows written, counted as the library's counted classes count theirs (the same wrapper around `sql.exec`). */
  readonly #takeRows: ReturnType<typeof countRows>
  /** The second hop's stub, made once (as the library's shard keeps its hubs' stubs). */
  #hub: HubFloorStub | undefined
  /** Outbox ids the hub floor acknowledged, marked published by the next write (no commit of their own). */
  #owedMarks: Array<number> = []

  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env as never)
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS posts (id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, title TEXT NOT NULL)")
    ctx.storage.sql.exec(
      "CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, row TEXT NOT NULL, created_at INTEGER NOT NULL, published_at INTEGER)",
    )
    this.#takeRows = countRows(ctx)
  }

  override async fetch(request: Request): Promise<Response> {
    const path = new URL(request.url).pathname.split("/")
    const action = path.pop()
    if (action === "ws") {
      const pair = new WebSocketPair()
      this.ctx.acceptWebSocket(pair[1])
      this.#sockets?.push(pair[1])
      return new Response(null, { status: 101, webSocket: pair[0] })
    }
    if (action === "write") return Response.json({ seq: this.write((await request.json()) as Row) })
    // The two-hop floor's writes over HTTP (its warm-up): the hub floor object is named as this one (`/floor/dbflow/{id}/...`).
    if (action === "write-via-hub") return Response.json({ seq: this.writeViaHub((await request.json()) as Row, decodeURIComponent(path.pop()!)) })
    if (action === "rows") return Response.json(this.#takeRows())
    return new Response("not found", { status: 404 })
  }

  /** The row and its outbox row in one transaction: the outbox id, the commit time and the row's JSON. */
  #commit(row: Row) {
    const sql = this.ctx.storage.sql
    const createdAt = Date.now()
    const newRow = JSON.stringify(row)
    const outboxId = this.ctx.storage.transactionSync(() => {
      sql.exec("INSERT INTO posts (id, tenant_id, title) VALUES (?, ?, ?)", row.id, row.tenantId, row.title)
      const outbox = sql.exec<{ id: number }>("INSERT INTO outbox (row, created_at) VALUES (?, ?) RETURNING id", newRow, createdAt)
      return outbox.one().id
    })
    return { sql, createdAt, newRow, outboxId }
  }

  write(row: Row): number {
    const { sql, createdAt, newRow, outboxId } = this.#commit(row)
    const frame = `{"type":"database.change","seq":${outboxId},"table":"posts","event":"insert","key":${JSON.stringify(row.id)},"old":null,"new":${newRow},"createdAt":"${new Date(createdAt).toISOString()}"}`
    this.#sockets ??= this.ctx.getWebSockets()
    for (const socket of this.#sockets) socket.send(frame)
    sql.exec("UPDATE outbox SET published_at = ? WHERE id = ?", Date.now(), outboxId)
    return outboxId
  }

  /**
   * The two-hop floor's first hop: the same commit as `write`, then the change's text goes to the
   * hub floor object named `hub` (floorTwoHop.ts), which buffers it and sends the frame; once it
   * answered, the outbox row's mark is owed to the next write's turn (a turn that writes ends in a
   * commit: marking in the answer's own turn would cost one more per write). Answers the outbox id at once, without waiting for
   * the second hop (as the library's shard answers a write while its send to the hub is in flight).
   */
  writeViaHub(row: Row, hub: string): number {
    const { sql, createdAt, newRow, outboxId } = this.#commit(row)
    // The marks of changes the hub floor acknowledged since the last write ride this write's commit (as the library's owed marks do).
    if (this.#owedMarks.length > 0) {
      sql.exec("UPDATE outbox SET published_at = ? WHERE id IN (SELECT value FROM json_each(?))", createdAt, JSON.stringify(this.#owedMarks))
      this.#owedMarks = []
    }
    if (this.#hub === undefined) {
      const namespace = (this.env as { DBFLOW_FLOOR_HUB: DurableObjectNamespace }).DBFLOW_FLOOR_HUB
      this.#hub = namespace.get(namespace.idFromName(hub)) as unknown as HubFloorStub
    }
    void this.#hub.publish(outboxId, createdAt, row.id, newRow).then(() => void this.#owedMarks.push(outboxId))
    return outboxId
  }

  /**
   * Rows inserted with their outbox rows in one transaction, one frame each, all marked published
   * with one statement: what a batch insert (the library's `insertMany`) does at its simplest.
   * Returns the last outbox id.
   */
  writeMany(rows: ReadonlyArray<Row>): number {
    const sql = this.ctx.storage.sql
    const createdAt = Date.now()
    const images = rows.map((row) => JSON.stringify(row))
    const ids = this.ctx.storage.transactionSync(() =>
      rows.map((row, index) => {
        sql.exec("INSERT INTO posts (id, tenant_id, title) VALUES (?, ?, ?)", row.id, row.tenantId, row.title)
        const outbox = sql.exec<{ id: number }>("INSERT INTO outbox (row, created_at) VALUES (?, ?) RETURNING id", images[index], createdAt)
        return outbox.one().id
      }),
    )
    const at = new Date(createdAt).toISOString()
    this.#sockets ??= this.ctx.getWebSockets()
    rows.forEach((row, index) => {
      const frame = `{"type":"database.change","seq":${ids[index]},"table":"posts","event":"insert","key":${JSON.stringify(row.id)},"old":null,"new":${images[index]},"createdAt":"${at}"}`
      for (const socket of this.#sockets!) socket.send(frame)
    })
    sql.exec("UPDATE outbox SET published_at = ? WHERE id BETWEEN ? AND ?", Date.now(), ids[0], ids[ids.length - 1])
    return ids[ids.length - 1]
  }

  override webSocketClose(socket: WebSocket, code: number) {
    this.#sockets = undefined
    socket.close(code === 1005 || code === 1006 ? 1000 : code, "closed")
  }
}
