/**
 * The two-hop floor of the db workload: what a write costs when its change crosses a second
 * Durable Object before it reaches the sockets, as the library's default configuration does
 * (Worker → shard → table hub), with nothing of the library in it. The first hop is the row +
 * outbox floor's commit (`DbflowOutboxFloor.writeViaHub`, floor.ts); it hands the change's text
 * to this object with one plain RPC, and marks its outbox row published in its next write's turn
 * once this object answered (as the library's shard owes its marks: two commits per write, not three). This object inserts one buffer row and sends the change frame to every socket it
 * holds (hibernation API). No Effect, no Schema, no dedupe, no trim.
 *
 * `/floor/dbflow-hub/{id}/ws` (upgrade), `GET .../rows` (rows written since the last call; resets).
 */
import { DurableObject } from "cloudflare:workers"
import { countRows } from "./counted.js"

export class DbflowHubFloor extends DurableObject {
  #sockets: Array<WebSocket> | undefined
  /** Rows written, counted as the library's counted classes count theirs (the same wrapper around `sql.exec`). */
  readonly #takeRows: ReturnType<typeof countRows>

  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env as never)
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS buffer (seq INTEGER PRIMARY KEY, outbox_id INTEGER NOT NULL, change TEXT NOT NULL)")
    this.#takeRows = countRows(ctx)
  }

  override async fetch(request: Request): Promise<Response> {
    const action = new URL(request.url).pathname.split("/").pop()
    if (action === "ws") {
      const pair = new WebSocketPair()
      this.ctx.acceptWebSocket(pair[1])
      this.#sockets?.push(pair[1])
      return new Response(null, { status: 101, webSocket: pair[0] })
    }
    if (action === "rows") return Response.json(this.#takeRows())
    return new Response("not found", { status: 404 })
  }

  /** One change from the first hop: `row` is the row's JSON text, as its outbox row holds it. Answers the change's seq. */
  publish(outboxId: number, createdAt: number, key: string, row: string): number {
    const inserted = this.ctx.storage.sql.exec<{ seq: number }>("INSERT INTO buffer (outbox_id, change) VALUES (?, ?) RETURNING seq", outboxId, row)
    const seq = inserted.one().seq
    const frame = `{"type":"database.change","seq":${seq},"table":"posts","event":"insert","key":${JSON.stringify(key)},"old":null,"new":${row},"createdAt":"${new Date(createdAt).toISOString()}"}`
    this.#sockets ??= this.ctx.getWebSockets()
    for (const socket of this.#sockets) socket.send(frame)
    return seq
  }

  override webSocketClose(socket: WebSocket, code: number) {
    this.#sockets = undefined
    socket.close(code === 1005 || code === 1006 ? 1000 : code, "closed")
  }
}
