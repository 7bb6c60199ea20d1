/**
 * Collaborative editor: a Yjs document bound to CodeMirror through the stock y-websocket
 * provider, remote cursors from awareness, and snapshot / restore buttons.
 */
import { defaultKeymap, history, historyKeymap } from "@codemirror/commands"
import { EditorState } from "@codemirror/state"
import { EditorView, keymap, lineNumbers } from "@codemirror/view"
import { yCollab } from "y-codemirror.next"
import { WebsocketProvider } from "y-websocket"
import * as Y from "yjs"
import type { CrdtGrant } from "../../src/schema/LiveGrant.js"
import { $, api, currentUser, initPage, showError, showStatus } from "./ui.js"

await initPage()
const docId = new URL(location.href).searchParams.get("doc") ?? "notes"
$("#doc-name").textContent = docId
const grantPath = `/api/grants/docs/${encodeURIComponent(docId)}`
const grant = await api<CrdtGrant>(grantPath)
const serverUrl = new URL(grant.yjs.serverUrl, location.href.replace(/^http/, "ws")).toString()

const ydoc = new Y.Doc()
const text = ydoc.getText("codemirror")
const provider = new WebsocketProvider(serverUrl, grant.yjs.roomName, ydoc, { protocols: [...grant.yjs.protocols] })
const colors = ["#e11d48", "#2563eb", "#16a34a", "#d97706", "#7c3aed", "#0891b2"]
provider.awareness.setLocalStateField("user", { name: currentUser(), color: colors[ydoc.clientID % colors.length], colorLight: "#e5e7eb" })

let everConnected = false
provider.on("status", ({ status }: { status: string }) => {
  if (status === "connected") everConnected = true
  showStatus(status === "connected" ? "live" : everConnected ? "reconnecting" : "connecting")
})
// A grant is short-lived: fetch a fresh one for every reconnect, so a stale token is never reused.
provider.on("connection-close", () => {
  api<CrdtGrant>(grantPath)
    .then((fresh) => {
      provider.protocols = [...fresh.yjs.protocols]
    })
    .catch(showError)
})

const view = new EditorView({
  parent: $("#editor"),
  state: EditorState.create({
    doc: text.toString(),
    extensions: [lineNumbers(), history(), keymap.of([...defaultKeymap, ...historyKeymap]), EditorView.lineWrapping, yCollab(text, provider.awareness)],
  }),
})
;(window as unknown as { editorView: EditorView; ydoc: Y.Doc }).editorView = view
;(window as unknown as { ydoc: Y.Doc }).ydoc = ydoc

const renderPeers = () => {
  const names = [...provider.awareness.getStates().entries()]
    .filter(([clientId]) => clientId !== ydoc.clientID)
    .map(([, state]) => (state as { user?: { name?: string } }).user?.name ?? "someone")
  $("#peers").textContent = names.length === 0 ? "Nobody else here" : `Also here: ${names.join(", ")}`
}
provider.awareness.on("change", renderPeers)
renderPeers()

type SnapshotInfo = { id: string; label: string | null; createdAt: string }
const snapshotsPath = `/api/docs/${encodeURIComponent(docId)}/snapshots`
const refreshSnapshots = async () => {
  const { snapshots } = await api<{ snapshots: ReadonlyArray<SnapshotInfo> }>(snapshotsPath)
  const latest = snapshots[0]
  $("#snapshot-info").textContent = latest === undefined ? "No snapshot yet" : `Latest snapshot: ${latest.label ?? latest.id} at ${new Date(latest.createdAt).toLocaleTimeString()}`
  $<HTMLButtonElement>("#restore").disabled = latest === undefined
  return latest
}
$("#snapshot").addEventListener("click", () =>
  api<SnapshotInfo>(snapshotsPath, { method: "POST", body: JSON.stringify({ label: `by ${currentUser()}` }) })
    .then(refreshSnapshots)
    .catch(showError),
)
$("#restore").addEventListener("click", async () => {
  try {
    const latest = await refreshSnapshots()
    if (latest === undefined) return
    await api(`/api/docs/${encodeURIComponent(docId)}/restore`, { method: "POST", body: JSON.stringify({ snapshotId: latest.id }) })
    showError(undefined)
  } catch (error) {
    showError(error)
  }
})
await refreshSnapshots().catch(showError)
