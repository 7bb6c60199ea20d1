/**
 * Live dashboard: a deployment feed over Server-Sent Events with counters and a small chart,
 * resuming after a reload from the last event it showed.
 */
import type { LiveGrant } from "../../src/schema/LiveGrant.js"
import { $, api, initPage, showError, showStatus } from "./ui.js"

await initPage()
const channelId = new URL(location.href).searchParams.get("channel") ?? "deployments"
$("#channel-name").textContent = channelId
const positionKey = `dashboard:${channelId}:last`
const counts = new Map<string, number>()
let total = 0

const renderCounters = () => {
  $("#total").textContent = String(total)
  const max = Math.max(1, ...counts.values())
  $("#chart").replaceChildren(
    ...[...counts.entries()].map(([type, count]) => {
      const row = document.createElement("div")
      row.className = "bar"
      row.dataset.type = type
      row.innerHTML = `<span class="label"></span><span class="fill"></span><span class="count"></span>`
      row.querySelector<HTMLElement>(".label")!.textContent = type
      row.querySelector<HTMLElement>(".fill")!.style.width = `${(count / max) * 100}%`
      row.querySelector<HTMLElement>(".count")!.textContent = String(count)
      return row
    }),
  )
}

const show = (message: { id: string; type: string; data: unknown; createdAt: string; seq: number }) => {
  total++
  counts.set(message.type, (counts.get(message.type) ?? 0) + 1)
  const item = document.createElement("li")
  item.textContent = `#${message.seq} ${message.type} ${JSON.stringify(message.data)}`
  $("#events").prepend(item)
  renderCounters()
}

let source: EventSource | undefined
const open = async () => {
  showStatus(source === undefined ? "connecting" : "reconnecting")
  const grant = await api<LiveGrant>(`/api/grants/channels/${encodeURIComponent(channelId)}`)
  const url = new URL(grant.eventsUrl, location.href)
  url.searchParams.set("access_token", grant.token)
  // After a reload, continue after the last event this page showed (EventSource only sends
  // Last-Event-ID on its own reconnects).
  const last = localStorage.getItem(positionKey)
  if (last !== null) url.searchParams.set("since", last)
  source = new EventSource(url)
  source.addEventListener("ready", () => showStatus("live"))
  source.addEventListener("message", (event) => {
    const frame = JSON.parse((event as MessageEvent<string>).data) as { message: Parameters<typeof show>[0] }
    show(frame.message)
    if ((event as MessageEvent).lastEventId) localStorage.setItem(positionKey, (event as MessageEvent).lastEventId)
  })
  source.addEventListener("discontinuity", () => $("#notice").removeAttribute("hidden"))
  source.addEventListener("close", (event) => {
    source?.close()
    const { code } = JSON.parse((event as MessageEvent<string>).data) as { code: number }
    // An expired grant: fetch a new one and continue where we were.
    if (code === 4001 || code === 4002) void open().catch(showError)
    else showStatus("closed")
  })
  source.onerror = () => showStatus(source?.readyState === EventSource.CLOSED ? "closed" : "reconnecting")
}
await open().catch(showError)

let sent = 0
$("#publish").addEventListener("click", async () => {
  sent++
  const type = ["deploy.started", "deploy.finished", "deploy.failed"][sent % 3]!
  try {
    await api(`/channels/${encodeURIComponent(channelId)}/events`, {
      method: "POST",
      headers: { "idempotency-key": crypto.randomUUID() },
      body: JSON.stringify({ type, data: { service: "api", build: sent } }),
    })
  } catch (error) {
    showError(error)
  }
})
