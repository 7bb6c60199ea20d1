/**
 * Chat: a room with history on load, live messages, a member list with typing indicators
 * (presence), idempotent send and reconnects that catch up.
 */
import { connectRoom, type Member, type StoredMessageEncoded } from "../../src/client/index.js"
import { $, api, currentUser, initPage, showError, showStatus } from "./ui.js"

await initPage()
const roomId = new URL(location.href).searchParams.get("room") ?? "lobby"
$("#room-name").textContent = roomId
const list = $<HTMLUListElement>("#messages")
const seen = new Set<string>()

const render = (message: StoredMessageEncoded) => {
  if (seen.has(message.id)) return
  seen.add(message.id)
  const item = document.createElement("li")
  const data = message.data as { text?: string }
  item.innerHTML = `<b></b> <span></span> <time></time>`
  item.querySelector("b")!.textContent = message.actor.name ?? message.actor.id
  item.querySelector("span")!.textContent = data.text ?? ""
  item.querySelector("time")!.textContent = new Date(message.createdAt).toLocaleTimeString()
  item.dataset.seq = String(message.seq)
  list.append(item)
  list.scrollTop = list.scrollHeight
}

const renderMembers = (members: ReadonlyArray<Member>) => {
  const target = $<HTMLUListElement>("#members")
  target.replaceChildren(
    ...members.map((member) => {
      const item = document.createElement("li")
      const typing = (member.presence as { typing?: boolean }).typing === true
      item.textContent = `${member.actor.name ?? member.actor.id}${typing ? " is typing…" : ""}`
      item.dataset.typing = String(typing)
      return item
    }),
  )
}

type Page = { messages: ReadonlyArray<StoredMessageEncoded>; epoch: string }
// History first (oldest to newest), then the live stream resumes from the last position.
const history = await api<Page>(`/rooms/${encodeURIComponent(roomId)}/messages?direction=forward&limit=100`).catch((error) => {
  showError(error)
  return { messages: [], epoch: "" } as Page
})
history.messages.forEach(render)
const last = history.messages.at(-1)

const room = connectRoom({
  grant: () => api(`/api/grants/rooms/${encodeURIComponent(roomId)}`),
  ...(last === undefined ? {} : { since: { epoch: last.epoch, seq: last.seq } }),
})
room.onState(showStatus)
room.onError(showError)
room.subscribe(render)
room.onMembers(renderMembers)

const input = $<HTMLInputElement>("#text")
const send = $<HTMLButtonElement>("#send")
// One key per composed message: a double click or a retry after a dropped socket stores it once.
let draftKey = crypto.randomUUID()
let typingTimer: ReturnType<typeof setTimeout> | undefined

input.addEventListener("input", () => {
  room.presence({ typing: input.value !== "" })
  clearTimeout(typingTimer)
  typingTimer = setTimeout(() => room.presence({ typing: false }), 2000)
})

$<HTMLFormElement>("#composer").addEventListener("submit", async (event) => {
  event.preventDefault()
  const text = input.value.trim()
  if (text === "") return
  try {
    const { message } = await room.publish({ type: "chat", data: { text }, idempotencyKey: draftKey })
    render(message)
    if (input.value.trim() === text) input.value = ""
    draftKey = crypto.randomUUID()
    room.presence({ typing: false })
    showError(undefined)
  } catch (error) {
    showError(error)
  }
})
send.disabled = false
document.body.dataset.user = currentUser()
