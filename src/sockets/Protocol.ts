/**
 * What a socket protocol plugs into the socket layer (`Sockets`): how to decode one frame, how to
 * handle it, how to tell the client about a refusal, and what to do when a socket closes.
 *
 * The layer does the rest, the same way for every protocol: accept (hibernation API), the
 * attachment, the guards that run before `decode` (grant expiry, frame size, rate budget,
 * strikes), error reporting, close codes, the close handshake and grant expiry.
 *
 * @since 0.2.0
 */
import type { Effect } from "effect"
import type { RealtimeError } from "../RealtimeError.js"
import type { RateBudget } from "../services/RateBudget.js"
import type { SocketAttachment } from "./Attachment.js"
import type { Closing } from "./CloseCodes.js"

/** A frame `decode` refused: reported to the client, then the socket is closed or gets a strike. */
export class FrameRefused {
  readonly _tag = "FrameRefused"
  constructor(
    readonly error: RealtimeError,
    /** Close at once with this; without it the frame costs a strike (`maxStrikes` close the socket). */
    readonly close?: Closing,
    /** The id the client gave the frame, echoed in its error frame. */
    readonly frameId?: string,
  ) {}
}

export interface SocketProtocol<Frame> {
  /**
   * The protocol's name, written into each socket's attachment (except for the object's default
   * protocol, `"default"`), so a socket's events come back to it after hibernation.
   */
  readonly name: string
  /** Frames above this many bytes are refused before anything reads them, and the socket closed (1009). */
  readonly maxFrameBytes: number
  /** Inbound budget, frames and bytes per connection and per actor (may be shared with HTTP writes). */
  readonly budget: RateBudget
  /** Refused frames (without their own `close`) tolerated before the socket is closed with `policy`. */
  readonly maxStrikes: number
  /** A frame over budget: refused with a strike (default), or the socket closed at once. */
  readonly overBudget?: (message: string | ArrayBuffer) => "strike" | "close"
  /**
   * Frames that arrive after the socket began closing are dropped (a flood that was closed for
   * its rate keeps arriving from the runtime's queue). Off by default: a frame a client sent
   * before closing is still handled.
   */
  readonly dropWhenClosing?: boolean
  /**
   * The error frame telling the client why its frame was refused. Without one (binary protocols)
   * a handler's error closes the socket with `closingFor(error)` and its message.
   */
  readonly errorFrame?: (error: RealtimeError | { readonly _tag: string; readonly message: string }, frameId?: string) => string
  /** Synchronous: parse and validate one admitted frame. */
  readonly decode: (message: string | ArrayBuffer, attachment: SocketAttachment) => Frame | FrameRefused
  /** The id of a decoded frame, echoed in the error frame if its handler fails. */
  readonly frameId?: (frame: Frame) => string | undefined
  /** Handle one decoded frame, in the actor's mailbox. */
  readonly handle: (socket: WebSocket, attachment: SocketAttachment, frame: Frame) => Effect.Effect<void, RealtimeError>
  /**
   * The synchronous fast path (issue 16): called instead of `handle` when the actor's mailbox is
   * idle, so frames stay one at a time and in order. It handles hot frames without entering the
   * Effect runtime and returns `undefined`, or returns the Effect the host then runs in the mailbox
   * (what is left of the work, or `handle(...)` for a frame it does not take).
   */
  readonly handleNow?: (socket: WebSocket, attachment: SocketAttachment, frame: Frame, now: number) => Effect.Effect<void, RealtimeError> | undefined
  /** After the close handshake and the layer's own cleanup (budget, strikes). */
  readonly closed?: (socket: WebSocket, attachment: SocketAttachment, code: number, reason: string) => Effect.Effect<void>
}
