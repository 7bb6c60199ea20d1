/**
 * The transport API from a browser with nothing but the platform: an `EventSource` listening for
 * `notification` events, and a `WebSocket` that subscribes to the `orders` channel with a message
 * and reads `{ event, data }` frames.
 */
import { $, api, initPage, showError, showStatus } from "./ui.js"

// The session cookie (set by initPage's login) identifies this page on both connections.
await initPage()
let streamOpen = false
let subscribed = false
const update = () => showStatus(streamOpen && subscribed ? "live" : "connecting")

const append = (list: string, text: string) => {
  const item = document.createElement("li")
  item.textContent = text
  $(list).prepend(item)
}

const source = new EventSource("/transport/events")
source.addEventListener("open", () => {
  streamOpen = true
  update()
})
source.addEventListener("notification", (event) => {
  const data = JSON.parse((event as MessageEvent<string>).data) as { message: string; from?: string }
  append("#notifications", data.from === undefined ? data.message : `${data.message} (from ${data.from})`)
})
source.onerror = () => {
  streamOpen = false
  showStatus(source.readyState === EventSource.CLOSED ? "closed" : "reconnecting")
}

const socketUrl = new URL("/transport/ws", location.href)
socketUrl.protocol = location.protocol === "https:" ? "wss:" : "ws:"
const socket = new WebSocket(socketUrl)
socket.addEventListener("open", () => socket.send(JSON.stringify({ type: "subscribe", channel: "orders" })))
socket.addEventListener("message", (event) => {
  const frame = JSON.parse(event.data as string) as { event: string; data: any }
  switch (frame.event) {
    case "subscribed":
      subscribed = true
      update()
      return
    case "new-order":
      append("#orders", `${frame.data.item} (#${frame.data.id}) by ${frame.data.by}`)
      return
    case "echo":
      append("#echoes", `${frame.data.from}: ${frame.data.text}`)
      return
    case "error":
      showError(frame.data)
      return
  }
})
socket.addEventListener("close", () => {
  subscribed = false
  showStatus("closed")
})

const notify = (everyone: boolean) =>
  api("/transport/notify", { method: "POST", body: JSON.stringify({ everyone, message: $<HTMLInputElement>("#message").value }) }).catch(showError)
$("#notify-me").addEventListener("click", () => notify(false))
$("#notify-all").addEventListener("click", () => notify(true))
$("#order").addEventListener("click", () => api("/transport/orders", { method: "POST", body: JSON.stringify({ item: $<HTMLInputElement>("#item").value }) }).catch(showError))
$("#echo").addEventListener("click", () => socket.send($<HTMLInputElement>("#echo-text").value))
