// The three Yjs targets: where a client connects, and what each reports about its storage.
import { grantFor } from "../../harness/load.mjs"

export const LIBRARY = "durable-realtime CRDT room"
export const FLOOR = "apply-and-forward floor"
export const PEER = "y-partyserver"
export const MEMORY_FLOOR = "apply-only floor (not durable)"

const json = async (response) => {
  if (!response.ok) throw new Error(`${response.url}: ${response.status} ${await response.text()}`)
  return response.json()
}

export const targets = {
  [LIBRARY]: {
    /** A grant per client; viewers get `read` only, editors `read,write`. */
    endpoint: async (server, id, user, role) => {
      const grant = await grantFor(server, "crdt", id, user, role === "viewer" ? ["read"] : ["read", "write"])
      return { url: `${server.wsUrl}${grant.yjs.url}`, protocols: grant.yjs.protocols }
    },
    /** documentStats(): bytes/rows written since the object woke (fresh ids: the run). */
    storage: async (server, id) => {
      const stats = await json(await fetch(`${server.url}/bench/crdt/${encodeURIComponent(id)}/stats`))
      return { writtenBytes: stats.writtenBytes, writtenRows: stats.writtenRows, storedBytes: stats.storedBytes, encodedBytes: stats.encodedBytes, receivedBytes: stats.receivedBytes }
    },
  },
  [FLOOR]: {
    endpoint: async (server, id) => ({ url: `${server.wsUrl}/floor/yjs-forward/${encodeURIComponent(id)}`, protocols: [] }),
    storage: async (server, id) => {
      const stats = await json(await fetch(`${server.url}/floor/yjs-forward/${encodeURIComponent(id)}/stats`))
      return { writtenBytes: stats.storedBytes, writtenRows: stats.rows, storedBytes: stats.storedBytes, encodedBytes: stats.encodedBytes }
    },
  },
  [MEMORY_FLOOR]: {
    endpoint: async (server, id) => ({ url: `${server.wsUrl}/floor/yjs-forward/${encodeURIComponent(id)}?memory`, protocols: [] }),
    storage: async () => ({ writtenBytes: 0, writtenRows: 0, storedBytes: 0, encodedBytes: 0 }),
  },
  [PEER]: {
    endpoint: async (server, id) => ({ url: `${server.wsUrl}/yparties/yjs-party-peer/${encodeURIComponent(id)}`, protocols: [] }),
    storage: async (server, id) => {
      const stats = await json(await fetch(`${server.url}/yparties/yjs-party-peer/${encodeURIComponent(id)}`))
      return { writtenBytes: stats.savedBytes, writtenRows: stats.saves, storedBytes: stats.storedBytes, encodedBytes: stats.encodedBytes }
    },
  },
}
