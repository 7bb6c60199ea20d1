/**
 * The socket the client needs, and the default way to open one (the global `WebSocket` of
 * browsers and Node 22+). Tests and other runtimes plug in their own `Connector`.
 * @since 0.1.0
 */

/** The part of a WebSocket the client uses. */
export interface SocketLike {
  send(data: string): void
  close(code?: number, reason?: string): void
  addEventListener(type: "message", listener: (event: { readonly data: unknown }) => void): void
  addEventListener(type: "close", listener: (event: { readonly code: number; readonly reason: string }) => void): void
}

/** Opens an already-connected socket, or rejects (with `ConnectFailed` when the server refused). */
export type Connector = (url: string, protocols: ReadonlyArray<string>) => Promise<SocketLike>

/** The handshake was refused; `status` is the HTTP status when the runtime exposes it. */
export class ConnectFailed extends Error {
  readonly _tag = "ConnectFailed"
  constructor(
    readonly status: number | undefined,
    message: string,
  ) {
    super(message)
  }
}

type WebSocketConstructor = new (url: string, protocols?: string | Array<string>) => WebSocket

/** A connector over a WebSocket constructor (the global one by default). */
export const webSocketConnector =
  (Constructor: WebSocketConstructor | undefined = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket): Connector =>
  (url, protocols) =>
    new Promise((resolve, reject) => {
      if (Constructor === undefined) {
        reject(new ConnectFailed(undefined, "no WebSocket available: pass `WebSocket` or `connect` in the options"))
        return
      }
      const socket = new Constructor(url.replace(/^http/, "ws"), [...protocols])
      let opened = false
      socket.addEventListener("open", () => {
        opened = true
        resolve(socket as unknown as SocketLike)
      })
      // Browsers hide the handshake's status: a refused upgrade is a close before open.
      socket.addEventListener("close", (event) => {
        if (!opened) reject(new ConnectFailed(undefined, `connection refused (close ${event.code})`))
      })
    })
