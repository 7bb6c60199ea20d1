/**
 * Raw fan-out floor: the simplest hibernating Durable Object that relays a frame to every other
 * socket. Sockets are accepted with the hibernation API; the socket list is cached while the
 * object is awake (getWebSockets() allocates a fresh array per call) and dropped on any change.
 */
import { DurableObject } from "cloudflare:workers"

/** Constructions per object name in this isolate: a second construction means the object was evicted (hibernated) and woke. */
export const fanoutLoopConstructions = new Map<string, number>()

export class FanoutLoopFloor extends DurableObject<unknown> {
  #sockets: Array<WebSocket> | undefined

  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env)
    const name = ctx.id.name ?? ctx.id.toString()
    fanoutLoopConstructions.set(name, (fanoutLoopConstructions.get(name) ?? 0) + 1)
  }

  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
      // Any other request reports how often this object was constructed (the wake workload's hibernation check).
      return Response.json({ constructions: fanoutLoopConstructions.get(this.ctx.id.name ?? this.ctx.id.toString()) ?? 0 })
    }
    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket]
    this.ctx.acceptWebSocket(server)
    this.#sockets = undefined
    return new Response(null, { status: 101, webSocket: client })
  }

  override webSocketMessage(from: WebSocket, message: string | ArrayBuffer) {
    const sockets = (this.#sockets ??= this.ctx.getWebSockets())
    for (const socket of sockets) if (socket !== from) socket.send(message)
  }

  override webSocketClose(socket: WebSocket, code: number) {
    this.#sockets = undefined
    socket.close(code === 1005 ? 1000 : code)
  }

  override webSocketError() {
    this.#sockets = undefined
  }
}
