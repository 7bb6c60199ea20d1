/** Small helpers every page shares: who I am, connection state, errors a person can read. */

const NAMES = ["Ada", "Grace", "Linus", "Margaret", "Alan", "Barbara", "Ken", "Frances"]

export interface Me {
  readonly type: "user"
  readonly id: string
  readonly name: string
}

let me: Me | undefined

/** My display name, as the server's session says (after `initPage`). */
export const currentUser = (): string => me?.name ?? ""

export const $ = <E extends HTMLElement = HTMLElement>(selector: string): E => {
  const element = document.querySelector<E>(selector)
  if (element === null) throw new Error(`missing element ${selector}`)
  return element
}

export type Status = "connecting" | "live" | "reconnecting" | "closed"

const LABELS: Record<Status, string> = { connecting: "Connecting…", live: "Live", reconnecting: "Reconnecting…", closed: "Disconnected" }

/** Show the connection state in the page header. */
export const showStatus = (status: Status) => {
  const badge = $("#status")
  badge.textContent = LABELS[status]
  badge.dataset.state = status
}

/** Show an error as a sentence, not a stack trace. */
export const showError = (error: unknown) => {
  const box = $("#error")
  const text = describeError(error)
  box.textContent = text
  box.hidden = text === ""
}

export const describeError = (error: unknown): string => {
  if (error === undefined || error === null) return ""
  const tagged = error as { tag?: string; _tag?: string; message?: string }
  const tag = tagged.tag ?? tagged._tag
  switch (tag) {
    case "Forbidden":
      return "You are not allowed to do that here."
    case "Unauthorized":
      return "Your access expired; reconnecting with a fresh one."
    case "RoomDestroyed":
      return "This room was closed."
    case "LimitExceeded":
      return "Too much at once; slowing down."
    case "InvalidInput":
      return `That was not accepted: ${tagged.message ?? "invalid input"}`
    default:
      return tagged.message ? `Something went wrong: ${tagged.message}` : String(error)
  }
}

/** JSON request with a readable error. */
export const api = async <A>(path: string, init: RequestInit = {}): Promise<A> => {
  const response = await fetch(path, { ...init, headers: { "content-type": "application/json", ...(init.headers ?? {}) } })
  const body = (await response.json().catch(() => ({}))) as { error?: { _tag?: string; message?: string } }
  if (!response.ok) throw body.error ?? new Error(`${response.status} ${response.statusText}`)
  return body as A
}

/**
 * Who I am: the session the server keeps in an HttpOnly cookie (`GET /me`). Without one, log in
 * (`POST /login`) with a display name — `?user=` picks it, so tests and demos can choose, and a
 * `?user=` that differs from the session's name logs in afresh. The server, not this page,
 * decides the user id; nothing here is sent as an identity afterwards.
 */
export const ensureSession = async (): Promise<Me> => {
  const wanted = new URL(location.href).searchParams.get("user")?.trim() || undefined
  const current = await fetch("/me", { credentials: "same-origin" }).then((response) => (response.ok ? (response.json() as Promise<{ actor: Me }>) : undefined))
  if (current !== undefined && (wanted === undefined || current.actor.name === wanted)) return current.actor
  const name = wanted ?? `${NAMES[Math.floor(Math.random() * NAMES.length)]}-${Math.floor(Math.random() * 900 + 100)}`
  return (await api<{ actor: Me }>("/login", { method: "POST", body: JSON.stringify({ name }) })).actor
}

/** Log in if needed, mark the current page in the nav and show the user. */
export const initPage = async (): Promise<Me> => {
  me = await ensureSession()
  for (const link of document.querySelectorAll<HTMLAnchorElement>("nav a")) {
    if (link.pathname === location.pathname) link.setAttribute("aria-current", "page")
  }
  $("#me").textContent = me.name
  return me
}
