/**
 * The y-websocket wire protocol (binary frames), as `y-websocket`'s `WebsocketProvider` and the
 * editors built on it speak it:
 *
 * ```
 * frame   = varUint(messageType) payload
 * sync    (0): varUint(step) varUint8Array(data)   step 0 = state vector, 1 = missing update, 2 = update
 * awareness (1): varUint8Array(awareness update)
 * auth    (2): ignored; queryAwareness (3): answered with every present state
 * ```
 *
 * @since 0.1.0
 */
import * as decoding from "lib0/decoding"
import * as encoding from "lib0/encoding"
import * as syncProtocol from "y-protocols/sync"

export const MessageType = { sync: 0, awareness: 1, auth: 2, queryAwareness: 3 } as const

/** A decoded client frame. */
export type YjsFrame =
  | { readonly kind: "syncStep1"; readonly stateVector: Uint8Array }
  | { readonly kind: "syncStep2" | "update"; readonly update: Uint8Array }
  | { readonly kind: "awareness"; readonly update: Uint8Array }
  | { readonly kind: "queryAwareness" }
  | { readonly kind: "auth" }

/** Whether a frame is a sync step 2 or an update (a write), from its first two bytes. */
export const isWriteFrame = (data: string | ArrayBuffer): boolean => {
  if (typeof data === "string" || data.byteLength < 2) return false
  const head = new Uint8Array(data, 0, 2)
  return head[0] === MessageType.sync && (head[1] === syncProtocol.messageYjsSyncStep2 || head[1] === syncProtocol.messageYjsUpdate)
}

/** Decode one frame; throws on malformed bytes or an unknown message type. */
export const decodeFrame = (bytes: Uint8Array): YjsFrame => {
  const decoder = decoding.createDecoder(bytes)
  const type = decoding.readVarUint(decoder)
  let frame: YjsFrame
  switch (type) {
    case MessageType.sync: {
      const step = decoding.readVarUint(decoder)
      const data = decoding.readVarUint8Array(decoder)
      if (step === syncProtocol.messageYjsSyncStep1) frame = { kind: "syncStep1", stateVector: data }
      else if (step === syncProtocol.messageYjsSyncStep2) frame = { kind: "syncStep2", update: data }
      else if (step === syncProtocol.messageYjsUpdate) frame = { kind: "update", update: data }
      else throw new Error(`unknown sync step ${step}`)
      break
    }
    case MessageType.awareness:
      frame = { kind: "awareness", update: decoding.readVarUint8Array(decoder) }
      break
    case MessageType.queryAwareness:
      return { kind: "queryAwareness" }
    case MessageType.auth:
      return { kind: "auth" }
    default:
      throw new Error(`unknown message type ${type}`)
  }
  if (decoding.hasContent(decoder)) throw new Error("trailing bytes after the message")
  return frame
}

const encode = (write: (encoder: encoding.Encoder) => void): Uint8Array => {
  const encoder = encoding.createEncoder()
  write(encoder)
  return encoding.toUint8Array(encoder)
}

export const syncStep1Frame = (stateVector: Uint8Array) =>
  encode((encoder) => {
    encoding.writeVarUint(encoder, MessageType.sync)
    encoding.writeVarUint(encoder, syncProtocol.messageYjsSyncStep1)
    encoding.writeVarUint8Array(encoder, stateVector)
  })

export const syncStep2Frame = (update: Uint8Array) =>
  encode((encoder) => {
    encoding.writeVarUint(encoder, MessageType.sync)
    encoding.writeVarUint(encoder, syncProtocol.messageYjsSyncStep2)
    encoding.writeVarUint8Array(encoder, update)
  })

export const updateFrame = (update: Uint8Array) =>
  encode((encoder) => {
    encoding.writeVarUint(encoder, MessageType.sync)
    syncProtocol.writeUpdate(encoder, update)
  })

export const awarenessFrame = (update: Uint8Array) =>
  encode((encoder) => {
    encoding.writeVarUint(encoder, MessageType.awareness)
    encoding.writeVarUint8Array(encoder, update)
  })
