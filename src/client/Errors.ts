/**
 * The library's tagged errors on the client side: what a close code, a refused handshake or an
 * `error` frame means, as the same `RealtimeError` classes the server uses, so an application
 * handles `error._tag === "RoomDestroyed"` in one way everywhere.
 *
 * @since 0.1.0
 */
import {
  CloseCode,
  Forbidden,
  IdempotencyConflict,
  InvalidInput,
  LimitExceeded,
  NotFound,
  PayloadTooLarge,
  RoomDestroyed,
  StorageFailure,
  Unauthorized,
  type RealtimeError,
} from "../RealtimeError.js"
import type { ConnectionError } from "./Connection.js"

/** An `error` frame or error body (`{ tag | _tag, message }`) as the tagged error it names. */
export const errorFromTag = (tag: string | undefined, message: string, context: { readonly kind?: "room" | "channel" | "crdtRoom"; readonly id?: string } = {}): RealtimeError => {
  switch (tag) {
    case "InvalidInput":
      return new InvalidInput({ field: "frame", message })
    case "PayloadTooLarge":
      return new PayloadTooLarge({ field: "frame", size: 0, limit: 0, message })
    case "RoomDestroyed":
      return new RoomDestroyed({ kind: context.kind ?? "room", id: context.id ?? "", message })
    case "NotFound":
      return new NotFound({ what: "resource", message })
    case "Unauthorized":
      return new Unauthorized({ reason: "invalid", message })
    case "Forbidden":
      return new Forbidden({ message })
    case "LimitExceeded":
      return new LimitExceeded({ limit: "rate", message })
    case "IdempotencyConflict":
      return new IdempotencyConflict({ idempotencyKey: "", message })
    default:
      return new StorageFailure({ message: tag === undefined ? message : `${tag}: ${message}` })
  }
}

/** What a WebSocket close code tells the application, as a tagged error (`undefined` for a normal close). */
export const errorFromClose = (code: number, reason: string, context: { readonly kind?: "room" | "channel" | "crdtRoom"; readonly id?: string } = {}): RealtimeError | undefined => {
  const message = reason === "" ? `closed with ${code}` : reason
  switch (code) {
    case CloseCode.normal:
      return undefined
    case CloseCode.grantExpired:
      return new Unauthorized({ reason: "expired", message })
    case CloseCode.unauthorized:
      return new Unauthorized({ reason: "invalid", message })
    case CloseCode.forbidden:
      return new Forbidden({ message })
    case CloseCode.destroyed:
      return new RoomDestroyed({ kind: context.kind ?? "room", id: context.id ?? "", message })
    case CloseCode.tooManyConnections:
      return new LimitExceeded({ limit: "connections", message })
    case CloseCode.rateLimited:
      return new LimitExceeded({ limit: "rate", message })
    case CloseCode.tooBig:
      return new LimitExceeded({ limit: "frame", message })
    case CloseCode.policy:
      return new InvalidInput({ field: "frame", message })
    default:
      return new StorageFailure({ message: `connection lost: ${message}` })
  }
}

/** A refused handshake by its HTTP status (browsers hide it: `undefined` reads as a network failure). */
export const errorFromStatus = (status: number | undefined, message: string): RealtimeError => {
  switch (status) {
    case 400:
      return new InvalidInput({ field: "request", message })
    case 401:
      return new Unauthorized({ reason: "invalid", message })
    case 403:
      return new Forbidden({ message })
    case 404:
      return new NotFound({ what: "resource", message })
    case 410:
      return new RoomDestroyed({ kind: "room", id: "", message })
    case 429:
    case 503:
      return new LimitExceeded({ limit: status === 429 ? "rate" : "connections", message })
    default:
      return new StorageFailure({ message })
  }
}

/** A room/channel connection's error as the library's tagged error. */
export const connectionErrorToRealtimeError = (error: ConnectionError, context: { readonly kind?: "room" | "channel" | "crdtRoom"; readonly id?: string } = {}): RealtimeError => {
  switch (error._tag) {
    case "ServerError":
      return errorFromTag(error.frame.tag, error.frame.message, context)
    case "ProtocolError":
      return new InvalidInput({ field: "frame", message: error.message })
    case "Closed":
      return errorFromClose(error.code, error.reason, context) ?? new StorageFailure({ message: `closed: ${error.reason}` })
    case "ConnectFailed":
      return errorFromStatus(error.status, error.message)
  }
}
