/**
 * The transport API from a browser with nothing but the platform: an `EventSource` listening for
 * `notification` events, and a `WebSocket` that subscribes to the `orders` channel with a message
 * and reads `{ event, data }` frames.
 */
import { $, api, currentUser, initPage, showError, showStatus } from "./ui.js"

// Logs in if needed: the transport routes know the person from the session cookie.
await initPage()
const user = currentUser()
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
  const data = JSON.parse((event as MessageEvent<string>).data) as { message: string }
  append("#notifications", data.message)
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

$("#notify").addEventListener("click", () =>
  api("/transport/notify", { method: "POST", body: JSON.stringify({ to: $<HTMLInputElement>("#to").value.trim(), message: $<HTMLInputElement>("#message").value }) }).catch(showError),
)
$("#order").addEventListener("click", () =>
  api("/transport/orders", { method: "POST", body: JSON.stringify({ item: $<HTMLInputElement>("#item").value, by: user }) }).catch(showError),
)
$("#echo").addEventListener("click", () => socket.send($<HTMLInputElement>("#echo-text").value))
