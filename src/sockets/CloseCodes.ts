/**
 * Why the server closes a socket: one table of close codes with their reasons, the code for a
 * typed error, and the safe `send` / `close` every protocol uses.
 *
 * The numbers are the public `CloseCode` constants (clients read them: src/client/Errors.ts); this
 * table adds the reason each closing sends, so every protocol says the same thing for the same
 * cause.
 *
 * @since 0.2.0
 */
import { CloseCode, type RealtimeError } from "../RealtimeError.js"

/** One reason to close: its code and the text sent with it (a detail may replace the text). */
export interface Closing {
  readonly code: number
  readonly reason: string
}

export const Close = {
  normal: { code: CloseCode.normal, reason: "" },
  goingAway: { code: CloseCode.goingAway, reason: "error" },
  /** A frame of the wrong kind (text on a binary protocol, or the reverse). */
  unsupported: { code: CloseCode.unsupported, reason: "unsupported frame" },
  tooBig: { code: CloseCode.tooBig, reason: "frame too big" },
  grantExpired: { code: CloseCode.grantExpired, reason: "grant expired" },
  destroyed: { code: CloseCode.destroyed, reason: "destroyed" },
  rateLimited: { code: CloseCode.rateLimited, reason: "rate limit exceeded" },
  /** Too many invalid frames, or a frame that breaks the protocol's rules. */
  policy: { code: CloseCode.policy, reason: "too many invalid frames" },
  /** The server could not do what the frame needed (storage failed): reconnect. */
  internal: { code: 1011, reason: "internal error" },
} as const satisfies Record<string, Closing>

/** The closing that reports a typed error to a protocol without error frames (y-websocket). */
export const closingFor = (error: RealtimeError): Closing => {
  switch (error._tag) {
    case "RoomDestroyed":
      return Close.destroyed
    case "PayloadTooLarge":
      return Close.tooBig
    case "InvalidInput":
      return Close.policy
    default:
      return Close.internal
  }
}

// A close reason may be at most 123 UTF-8 bytes; longer ones make `close` throw.
const MAX_REASON_CHARS = 120

/** Close a socket, with the closing's own reason or a detail; a socket already closed is left alone. */
export const closeSocket = (socket: WebSocket, closing: Closing, detail?: string): void => {
  try {
    socket.close(closing.code, (detail ?? closing.reason).slice(0, MAX_REASON_CHARS))
  } catch {
    // already closed
  }
}

/**
 * The code to answer a client's close with. 1005 (no code) and 1006 (abnormal) are reserved for
 * reporting and may not be sent; neither may anything outside 1000-4999.
 */
export const echoCode = (code: number): number => (code >= 1000 && code < 5000 && code !== 1005 && code !== 1006 ? code : CloseCode.normal)

/** Send a frame; a socket closing under us is not the sender's problem (its close handler cleans up). */
export const sendFrame = (socket: WebSocket, frame: string | ArrayBuffer | ArrayBufferView): boolean => {
  try {
    socket.send(frame)
    return true
  } catch {
    return false
  }
}
