/**
 * partyserver as its README shows: `onMessage` → `this.broadcast(message, [connection.id])`.
 * Two bindings of the same server, one hibernating (`static options = { hibernate: true }`) and
 * one in memory (the default), routed by `routePartykitRequest` at `/parties/fanout-party-{hibernating,in-memory}/{room}`.
 */
import { routePartykitRequest, Server, type Connection, type WSMessage } from "partyserver"

/** onStart() runs at first start and at every wake from hibernation: counted per room so the wake workload can tell it woke. */
const starts = new Map<string, number>()
const countStart = (name: string) => void starts.set(name, (starts.get(name) ?? 0) + 1)
const startsResponse = (name: string) => Response.json({ starts: starts.get(name) ?? 0 })

export class FanoutPartyHibernating extends Server {
  static override options = { hibernate: true }

  override onStart() {
    countStart(`hibernating:${this.name}`)
  }

  override onRequest() {
    return startsResponse(`hibernating:${this.name}`)
  }

  override onMessage(connection: Connection, message: WSMessage) {
    this.broadcast(message, [connection.id])
  }
}

export class FanoutPartyInMemory extends Server {
  static override options = { hibernate: false }

  override onStart() {
    countStart(`in-memory:${this.name}`)
  }

  override onRequest() {
    return startsResponse(`in-memory:${this.name}`)
  }

  override onMessage(connection: Connection, message: WSMessage) {
    this.broadcast(message, [connection.id])
  }
}

/** Only this family's parties: another family may route its own `/parties/...` servers. */
export const fanoutPartyRoute = async (request: Request, env: Record<string, unknown>, url: URL): Promise<Response | undefined> => {
  if (!url.pathname.startsWith("/parties/fanout-party-")) return undefined
  return (await routePartykitRequest(request, env)) ?? undefined
}
