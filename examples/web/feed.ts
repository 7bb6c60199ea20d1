/**
 * Database feed: one tenant's posts, kept current by the table's change stream (snapshot first,
 * then every insert, update and delete), over a grant bound to the tenant.
 */
import { $, api, initPage, showError, showStatus } from "./ui.js"

await initPage()
const tenantId = new URL(location.href).searchParams.get("tenant") ?? "acme"
$("#tenant-name").textContent = tenantId
type Post = { id: string; tenantId: string; title: string; published: boolean }
type Change = { type: "database.change"; seq: number; event: "insert" | "update" | "delete"; key: { id: string }; old: Post | null; new: Post | null }
const posts = new Map<string, Post>()
let lastSeq: number | undefined
let attempt = 0

const render = () => {
  $("#posts").replaceChildren(
    ...[...posts.values()].map((post) => {
      const item = document.createElement("li")
      item.dataset.id = post.id
      item.innerHTML = `<span class="title"></span> <button class="rename">Rename</button> <button class="remove">Delete</button>`
      item.querySelector(".title")!.textContent = post.title
      item.querySelector(".rename")!.addEventListener("click", () =>
        api(`/db/posts/${encodeURIComponent(post.id)}?tenantId=${encodeURIComponent(tenantId)}`, { method: "PATCH", body: JSON.stringify({ title: `${post.title} (edited)` }) }).catch(showError),
      )
      item.querySelector(".remove")!.addEventListener("click", () =>
        api(`/db/posts/${encodeURIComponent(post.id)}?tenantId=${encodeURIComponent(tenantId)}`, { method: "DELETE" }).catch(showError),
      )
      return item
    }),
  )
  $("#count").textContent = String(posts.size)
}

const connect = async () => {
  showStatus(lastSeq === undefined ? "connecting" : "reconnecting")
  const grant = await api<{ url: string; protocols: ReadonlyArray<string> }>("/db/grants", { method: "POST", body: JSON.stringify({ tenantId }) })
  const url = new URL(grant.url, location.href.replace(/^http/, "ws"))
  // First connection: the current rows, then changes. Later ones: what was missed since the last change.
  if (lastSeq === undefined) {
    url.searchParams.set("snapshot", "true")
    url.searchParams.set("limit", "200")
  } else url.searchParams.set("since", String(lastSeq))
  const socket = new WebSocket(url, [...grant.protocols])
  socket.addEventListener("message", (event) => {
    const frame = JSON.parse(event.data as string) as { type: string; rows?: ReadonlyArray<Post>; seq?: number }
    if (frame.type === "database.snapshot") for (const row of frame.rows ?? []) posts.set(row.id, row)
    else if (frame.type === "ready") {
      attempt = 0
      if (frame.seq !== undefined && lastSeq === undefined) lastSeq = frame.seq
      showStatus("live")
    } else if (frame.type === "resync") {
      posts.clear()
      lastSeq = undefined
      socket.close()
    } else if (frame.type === "database.change") {
      const change = frame as unknown as Change
      if (change.event === "delete") posts.delete(change.key.id)
      else if (change.new !== null) posts.set(change.key.id, change.new)
      lastSeq = change.seq
    } else if (frame.type === "error") showError(frame)
    render()
  })
  socket.addEventListener("close", () => {
    showStatus("reconnecting")
    attempt++
    setTimeout(() => void connect().catch(showError), Math.min(10_000, 250 * 2 ** attempt))
  })
}
await connect().catch(showError)

$<HTMLFormElement>("#new-post").addEventListener("submit", async (event) => {
  event.preventDefault()
  const input = $<HTMLInputElement>("#title")
  const title = input.value.trim()
  if (title === "") return
  try {
    await api("/db/posts", { method: "POST", body: JSON.stringify({ id: crypto.randomUUID().slice(0, 8), tenantId, title }) })
    input.value = ""
  } catch (error) {
    showError(error)
  }
})
