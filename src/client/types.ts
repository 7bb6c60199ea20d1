/** Protocol types re-exported for client users. @since 0.1.0 */
export type {
  AckFrame,
  DiscontinuityFrame,
  ErrorFrame,
  EventFrame,
  LiveGrant,
  Member,
  MessageFrame,
  Position,
  ReadyFrame,
  ServerFrame,
} from "../schema/Protocol.js"
import type { StoredMessage } from "../schema/Message.js"
export type StoredMessageEncoded = typeof StoredMessage.Encoded
