/** Protocol types re-exported for client users. @since 0.1.0 */
export type {
  AckFrame,
  DiscontinuityFrame,
  ErrorFrame,
  EventFrame,
  Member,
  MessageFrame,
  Position,
  ReadyFrame,
  ServerFrame,
} from "../schema/Protocol.js"
export type { LiveGrant } from "../schema/LiveGrant.js"
import type { StoredMessage } from "../schema/Message.js"
export type StoredMessageEncoded = typeof StoredMessage.Encoded
