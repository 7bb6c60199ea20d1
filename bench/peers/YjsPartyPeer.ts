/**
 * Peer for Yjs editing: `y-partyserver`'s `YServer` as its README and example show it: SQLite
 * persistence in `onLoad`/`onSave` (the whole document, `INSERT OR REPLACE` into `documents`),
 * the example's callback options, and hibernation (`static options = { hibernate: true }`).
 * Routed with partyserver's `routePartykitRequest` under its own prefix.
 *
 * Bench-only addition: `savedBytes`, the bytes `onSave` wrote since wake, reported by `onRequest`
 * so the workload can compare bytes written per update; it does not change what is stored.
 */
import { routePartykitRequest } from "partyserver"
import { YServer } from "y-partyserver"
import * as Y from "yjs"

export class YjsPartyPeer extends YServer {
  static override callbackOptions = { debounceWait: 1000, debounceMaxWait: 10000, timeout: 10000 }
  static override options = { hibernate: true }

  private savedBytes = 0
  private saves = 0

  override async onStart() {
    this.ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS documents (id TEXT PRIMARY KEY, content BLOB)")
    return super.onStart()
  }

  override async onLoad() {
    const document = [...this.ctx.storage.sql.exec("SELECT * FROM documents WHERE id = ? LIMIT 1", this.name)][0]
    if (document) Y.applyUpdate(this.document, new Uint8Array(document.content as ArrayBuffer))
  }

  override async onSave() {
    const update = Y.encodeStateAsUpdate(this.document)
    this.ctx.storage.sql.exec("INSERT OR REPLACE INTO documents (id, content) VALUES (?, ?)", this.name, update)
    this.savedBytes += update.byteLength
    this.saves++
  }

  override async onRequest(): Promise<Response> {
    const row = [...this.ctx.storage.sql.exec<{ bytes: number | null }>("SELECT SUM(LENGTH(content)) AS bytes FROM documents")][0]
    return Response.json({ saves: this.saves, savedBytes: this.savedBytes, storedBytes: row?.bytes ?? 0, encodedBytes: Y.encodeStateAsUpdate(this.document).byteLength })
  }
}

/** `/yparties/yjs-party-peer/{id}`: partyserver's router, as its README shows, under a prefix of its own. */
export const YjsPartyPeerRoute = async (request: Request, env: Record<string, unknown>): Promise<Response | undefined> =>
  (await routePartykitRequest(request, env as never, { prefix: "yparties" })) ?? undefined
