/** Small helpers every page shares: who I am, connection state, errors a person can read. */

const NAMES = ["Ada", "Grace", "Linus", "Margaret", "Alan", "Barbara", "Ken", "Frances"]

/** A display name, remembered per tab: `?user=` wins, so tests and demos can pick one. */
export const currentUser = (): string => {
  const fromUrl = new URL(location.href).searchParams.get("user")
  if (fromUrl) sessionStorage.setItem("user", fromUrl)
  let name = sessionStorage.getItem("user")
  if (!name) {
    name = `${NAMES[Math.floor(Math.random() * NAMES.length)]}-${Math.floor(Math.random() * 900 + 100)}`
    sessionStorage.setItem("user", name)
  }
  return name
}

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

export const withUser = (path: string) => `${path}${path.includes("?") ? "&" : "?"}user=${encodeURIComponent(currentUser())}`

/** Mark the current page in the nav and show the user. */
export const initPage = () => {
  for (const link of document.querySelectorAll<HTMLAnchorElement>("nav a")) {
    if (link.pathname === location.pathname) link.setAttribute("aria-current", "page")
    link.href = `${link.pathname}?user=${encodeURIComponent(currentUser())}`
  }
  $("#me").textContent = currentUser()
}
