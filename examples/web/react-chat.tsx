/**
 * Chat on `durable-realtime/react`: history then live messages, members with typing indicators,
 * everyone's cursor over a shared board (presence, throttled), idempotent send.
 */
import { useRef, useState, type FormEvent, type PointerEvent } from "react"
import { createRoomHooks, RoomProvider } from "../../src/react/index.js"
import { mount, Page, param } from "./react-ui.js"

type ChatPresence = { typing?: boolean; cursor?: { x: number; y: number } | null }
type ChatData = { text: string }
const { useRoom, useMessages, useMembers, useOthers, useMyPresence, useEvent } = createRoomHooks<ChatPresence, ChatData>()

const Chat = ({ roomId }: { roomId: string }) => {
  const room = useRoom()
  const { messages, hasOlder, loading, loadOlder } = useMessages({ limit: 50 })
  const members = useMembers()
  const others = useOthers()
  const [, updatePresence] = useMyPresence()
  const [text, setText] = useState("")
  const [error, setError] = useState<unknown>(undefined)
  // Waves are ephemeral events: delivered to whoever is here, never stored.
  const [wave, setWave] = useState("")
  useEvent("wave", (event) => setWave(`${event.actor.name ?? event.actor.id} waved`))
  // One key per composed message: a double click or a retry after a dropped socket stores it once.
  const draftKey = useRef(crypto.randomUUID())

  const send = async (event: FormEvent) => {
    event.preventDefault()
    const body = text.trim()
    if (body === "") return
    try {
      await room.publish({ type: "chat", data: { text: body }, idempotencyKey: draftKey.current })
      draftKey.current = crypto.randomUUID()
      setText((current) => (current.trim() === body ? "" : current))
      updatePresence({ typing: false })
      setError(undefined)
    } catch (cause) {
      setError(cause)
    }
  }

  const move = (event: PointerEvent<HTMLDivElement>) => {
    const box = event.currentTarget.getBoundingClientRect()
    updatePresence({ cursor: { x: Math.round(event.clientX - box.left), y: Math.round(event.clientY - box.top) } })
  }

  return (
    <Page status={room.state} error={error ?? room.error}>
      <h1>
        Room <span id="room-name">{roomId}</span>
      </h1>
      <section className="chat">
        <div>
          {hasOlder ? (
            <button id="older" disabled={loading} onClick={() => void loadOlder()}>
              Load older
            </button>
          ) : null}
          <ul id="messages" aria-live="polite">
            {messages.map((message) => (
              <li key={`${message.epoch}:${message.seq}`} data-seq={message.seq}>
                <b>{message.actor.name ?? message.actor.id}</b> <span>{message.data.text}</span> <time>{new Date(message.createdAt).toLocaleTimeString()}</time>
              </li>
            ))}
          </ul>
          <form id="composer" onSubmit={send}>
            <input
              id="text"
              autoComplete="off"
              placeholder="Say something"
              aria-label="Message"
              value={text}
              onChange={(event) => {
                setText(event.target.value)
                updatePresence({ typing: event.target.value !== "" })
              }}
            />
            <button id="send" disabled={room.state !== "live"}>
              Send
            </button>
          </form>
          <p className="toolbar">
            <button id="wave" type="button" disabled={room.state !== "live"} onClick={() => void room.broadcast({ type: "wave" }).catch(setError)}>
              Wave
            </button>
            <span id="wave-note" className="muted">
              {wave}
            </span>
          </p>
          <div id="board" onPointerMove={move} onPointerLeave={() => updatePresence({ cursor: null })}>
            {others.map((member) =>
              member.presence.cursor ? (
                <span key={member.id} className="cursor" data-user={member.actor.name ?? member.actor.id} data-x={member.presence.cursor.x} data-y={member.presence.cursor.y} style={{ left: member.presence.cursor.x, top: member.presence.cursor.y }}>
                  {member.actor.name ?? member.actor.id}
                </span>
              ) : null,
            )}
          </div>
        </div>
        <aside>
          <h2>Here now</h2>
          <ul id="members">
            {members.map((member) => (
              <li key={member.id} data-typing={String(member.presence.typing === true)}>
                {member.actor.name ?? member.actor.id}
                {member.presence.typing === true ? " is typing…" : ""}
              </li>
            ))}
          </ul>
        </aside>
      </section>
    </Page>
  )
}

const roomId = param("room", "lobby")
void mount(
  <RoomProvider id={roomId} initialPresence={{ typing: false }}>
    <Chat roomId={roomId} />
  </RoomProvider>,
)
