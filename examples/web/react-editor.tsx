/**
 * The collaborative editor on `useYDoc`: a Yjs document synced by a stock y-websocket provider
 * (fresh grant on every reconnect), bound to CodeMirror, with the others' cursors from awareness.
 */
import { defaultKeymap, history, historyKeymap } from "@codemirror/commands"
import { EditorState } from "@codemirror/state"
import { EditorView, keymap, lineNumbers } from "@codemirror/view"
import { useEffect, useRef, useState } from "react"
import { yCollab } from "y-codemirror.next"
import { useYDoc } from "../../src/react/index.js"
import { mount, myName, Page, param } from "./react-ui.js"

const colors = ["#e11d48", "#2563eb", "#16a34a", "#d97706", "#7c3aed", "#0891b2"]

const Editor = ({ docId }: { docId: string }) => {
  const { doc, awareness, status, error } = useYDoc(docId)
  const host = useRef<HTMLDivElement>(null)
  const [peers, setPeers] = useState<ReadonlyArray<string>>([])

  useEffect(() => {
    if (awareness === undefined || host.current === null) return
    const text = doc.getText("codemirror")
    awareness.setLocalStateField("user", { name: myName(), color: colors[doc.clientID % colors.length], colorLight: "#e5e7eb" })
    const view = new EditorView({
      parent: host.current,
      state: EditorState.create({
        doc: text.toString(),
        extensions: [lineNumbers(), history(), keymap.of([...defaultKeymap, ...historyKeymap]), EditorView.lineWrapping, yCollab(text, awareness)],
      }),
    })
    const showPeers = () =>
      setPeers(
        [...awareness.getStates().entries()].filter(([clientId]) => clientId !== doc.clientID).map(([, state]) => (state as { user?: { name?: string } }).user?.name ?? "someone"),
      )
    awareness.on("change", showPeers)
    showPeers()
    Object.assign(window, { editorView: view, ydoc: doc, awareness })
    return () => {
      awareness.off("change", showPeers)
      view.destroy()
    }
  }, [doc, awareness])

  return (
    <Page status={status} error={error}>
      <h1>
        Document <span id="doc-name">{docId}</span>
      </h1>
      <p id="peers" className="muted">
        {peers.length === 0 ? "Nobody else here" : `Also here: ${peers.join(", ")}`}
      </p>
      <div id="editor" ref={host} />
    </Page>
  )
}

void mount(<Editor docId={param("doc", "notes")} />)
