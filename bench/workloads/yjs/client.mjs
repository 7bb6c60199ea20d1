// A Yjs client speaking the y-websocket protocol over `ws`, as y-websocket's provider does: send
// sync step 1 on open, answer the server's step 1, apply step 2 and updates, send local updates.
// It counts what it receives, and frames that changed nothing in its doc (for an editor: echoes
// of its own updates).
import * as decoding from "lib0/decoding"
import * as encoding from "lib0/encoding"
import WebSocket from "ws"
import * as syncProtocol from "y-protocols/sync"
import * as Y from "yjs"

const SERVER = "server"

const frameOf = (write) => {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, 0)
  write(encoder)
  return encoding.toUint8Array(encoder)
}

/** Connect; resolves once the server's sync step 2 has been applied. */
export const connectYjs = ({ url, protocols }, { doc = new Y.Doc(), timeoutMs = 30_000 } = {}) =>
  new Promise((resolve, reject) => {
    const socket = new WebSocket(url, protocols, { perMessageDeflate: false })
    socket.binaryType = "arraybuffer"
    const stats = { frames: 0, bytes: 0, updateFrames: 0, unchangedUpdateFrames: 0 }
    let changed = false
    const closed = new Promise((done) => socket.once("close", done))
    const send = (bytes) => {
      if (socket.readyState === WebSocket.OPEN) socket.send(bytes)
    }
    const client = {
      doc,
      socket,
      stats,
      send,
      close: async () => {
        if (socket.readyState !== WebSocket.CLOSED) socket.close(1000, "done")
        await Promise.race([closed, new Promise((done) => setTimeout(done, 5000))])
        doc.destroy()
      },
    }
    const timer = setTimeout(() => {
      socket.terminate()
      reject(new Error(`not synced in ${timeoutMs} ms: ${url}`))
    }, timeoutMs)
    doc.on("update", (update, origin) => {
      changed = true
      if (origin !== SERVER) send(frameOf((encoder) => syncProtocol.writeUpdate(encoder, update)))
    })
    socket.on("open", () => send(frameOf((encoder) => syncProtocol.writeSyncStep1(encoder, doc))))
    socket.on("message", (data) => {
      const bytes = new Uint8Array(data)
      stats.frames++
      stats.bytes += bytes.byteLength
      const decoder = decoding.createDecoder(bytes)
      if (decoding.readVarUint(decoder) !== 0) return // awareness: not part of these workloads
      const step = decoding.peekVarUint(decoder)
      const reply = encoding.createEncoder()
      encoding.writeVarUint(reply, 0)
      changed = false
      syncProtocol.readSyncMessage(decoder, reply, doc, SERVER)
      if (encoding.length(reply) > 1) send(encoding.toUint8Array(reply))
      if (step === syncProtocol.messageYjsUpdate) {
        stats.updateFrames++
        if (!changed) stats.unchangedUpdateFrames++
      } else if (step === syncProtocol.messageYjsSyncStep2) {
        clearTimeout(timer)
        resolve(client)
      }
    })
    socket.on("error", (error) => {
      clearTimeout(timer)
      reject(error)
    })
  })
