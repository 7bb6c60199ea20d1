/** Log in to the example app (routes/session.ts) the way a browser does, for tests of its routes. */
import { SELF } from "cloudflare:test"

export interface Session {
  readonly actor: { readonly type: "user"; readonly id: string; readonly name: string }
  /** The `cookie` request header that carries the session. */
  readonly cookie: string
  /** `content-type: application/json` plus the session cookie, merged with `extra`. */
  readonly headers: (extra?: Record<string, string>) => Record<string, string>
}

export const login = async (name: string): Promise<Session> => {
  const response = await SELF.fetch("http://example.com/login", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name }) })
  if (response.status !== 200) throw new Error(`login failed: ${response.status} ${await response.text()}`)
  const setCookie = response.headers.get("set-cookie") ?? ""
  const cookie = setCookie.split(";")[0]!
  const { actor } = (await response.json()) as { actor: Session["actor"] }
  return { actor, cookie, headers: (extra = {}) => ({ "content-type": "application/json", cookie, ...extra }) }
}
