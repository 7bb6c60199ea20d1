/**
 * What the React example pages share: where grants and history come from (the example's routes),
 * the page header with the connection status, and mounting under Strict Mode.
 */
import { StrictMode, type ReactNode } from "react"
import { createRoot } from "react-dom/client"
import { RealtimeProvider, type GrantFetcher, type HistoryLoader } from "../../src/react/index.js"
import { api, describeError, ensureSession, type Me } from "./ui.js"

let me: Me | undefined
/** My display name, as the session says (after `mount`). */
export const myName = (): string => me?.name ?? ""

const grantPaths: Record<string, string> = { room: "rooms", channel: "channels", crdtRoom: "docs" }

/**
 * Grants from the example's routes (they read who you are from the session cookie): rooms,
 * channels and documents by id, tables by the tenant filter.
 */
export const grant: GrantFetcher = ((kind, id, { filters }) =>
  kind === "table"
    ? api("/db/grants", { method: "POST", body: JSON.stringify({ tenantId: filters?.tenantId }) })
    : api(`/api/grants/${grantPaths[kind]}/${encodeURIComponent(id)}`)) as GrantFetcher

/** History pages from the example's routes (newest first; the hooks order them). */
export const history: HistoryLoader = (kind, id, { limit, cursor }) =>
  api(`/${kind === "room" ? "rooms" : "channels"}/${encodeURIComponent(id)}/${kind === "room" ? "messages" : "history"}?limit=${limit}${cursor === null ? "" : `&cursor=${encodeURIComponent(cursor)}`}`)

const LABELS = { connecting: "Connecting…", live: "Live", reconnecting: "Reconnecting…", closed: "Disconnected" } as const

const PAGES = [
  ["/react-chat", "Chat"],
  ["/react-editor", "Editor"],
  ["/react-feed", "Database feed"],
  ["/inspector", "Inspector"],
  ["/", "Plain pages"],
] as const

/** The header every page has: navigation, who I am, the connection state; and an error line. */
export const Page = (props: { readonly status?: keyof typeof LABELS; readonly error?: unknown; readonly children: ReactNode }) => {
  const user = myName()
  const error = describeError(props.error)
  return (
    <>
      <header>
        <strong>durable-realtime · React</strong>
        <nav>
          {PAGES.map(([path, label]) => (
            <a key={path} href={path} aria-current={location.pathname === path ? "page" : undefined}>
              {label}
            </a>
          ))}
        </nav>
        <span className="who">
          You are <b id="me">{user}</b>
        </span>
        {props.status === undefined ? null : (
          <span id="status" data-state={props.status}>
            {LABELS[props.status]}
          </span>
        )}
      </header>
      <p id="error" role="alert" hidden={error === ""}>
        {error}
      </p>
      <main>{props.children}</main>
    </>
  )
}

/**
 * Log in if needed (the session cookie; `?user=` picks the name), then render the page under
 * Strict Mode (effects run twice in development: the hooks keep one socket).
 */
export const mount = async (app: ReactNode) => {
  me = await ensureSession()
  createRoot(document.getElementById("root")!).render(
    <StrictMode>
      <RealtimeProvider grant={grant} history={history}>
        {app}
      </RealtimeProvider>
    </StrictMode>,
  )
}

export const param = (name: string, fallback: string) => new URL(location.href).searchParams.get(name) ?? fallback
