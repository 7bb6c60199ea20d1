/**
 * Who the person is, for the example app: a login route that issues a signed, HttpOnly session
 * cookie, and `currentUser(request)` that reads it back. Every route takes the actor from here —
 * never from a header, query parameter or body field the browser sends.
 *
 * ```
 * POST /login   { name }   → 200 { actor }, Set-Cookie: session=<signed token>; HttpOnly; SameSite=Lax
 * GET  /me                 → 200 { actor } | 401
 * POST /logout             → 204, the cookie cleared
 * ```
 *
 * The demo has no passwords: logging in picks a display name, and the server gives the session a
 * fresh random user id, so typing someone else's name makes a second "Ada", never the first one.
 * A real app would verify a password, a passkey or an identity provider here and keep the rest.
 *
 * The cookie is an HS256 JWT (jose) under a key derived from `REALTIME_GRANT_SECRET` with HMAC
 * ("example-session" as the label), so a session token and a grant can never stand in for each
 * other, and rotating the secret logs everyone out.
 */
import { env as workerEnv } from "cloudflare:workers"
import { Effect, Schema } from "effect"
import * as jose from "jose"
import { ConfigurationError, InvalidInput, isRealtimeError, toResponse, Unauthorized, type Actor } from "../../src/index.js"

const COOKIE = "session"
const ISSUER = "durable-realtime-example"
const AUDIENCE = "durable-realtime-example:session"
/** Sessions last a week; the browser drops the cookie at the same time. */
const SESSION_SECONDS = 7 * 24 * 3600

const LoginBody = Schema.Struct({
  name: Schema.String.pipe(Schema.trimmed({ message: () => "name: no leading or trailing spaces" }), Schema.minLength(1), Schema.maxLength(40), Schema.pattern(/^[^\p{Cc}]+$/u)),
})

const keys = new Map<string, Promise<Uint8Array>>()
/** The session key: HMAC-SHA256(secret, "example-session"), derived once per secret. */
const sessionKey = (env: Record<string, unknown>): Promise<Uint8Array> => {
  const secret = env.REALTIME_GRANT_SECRET
  if (typeof secret !== "string" || secret === "") {
    return Promise.reject(new ConfigurationError({ setting: "REALTIME_GRANT_SECRET", message: "REALTIME_GRANT_SECRET is not set: the example cannot sign sessions (npm run dev writes one to .dev.vars)" }))
  }
  let key = keys.get(secret)
  if (key === undefined) {
    key = crypto.subtle
      .importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"])
      .then((hmac) => crypto.subtle.sign("HMAC", hmac, new TextEncoder().encode("example-session")))
      .then((bytes) => new Uint8Array(bytes))
    keys.set(secret, key)
  }
  return key
}

const cookieOf = (request: Request): string | undefined => {
  for (const part of (request.headers.get("cookie") ?? "").split(";")) {
    const [name, ...value] = part.trim().split("=")
    if (name === COOKIE) return value.join("=")
  }
  return undefined
}

const SessionClaims = Schema.Struct({ sub: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(64)), name: Schema.String.pipe(Schema.maxLength(40)) })

/** The logged-in person of a request, or `undefined` (no cookie, tampered, expired, other key). */
export const currentUser = async (request: Request, env: Record<string, unknown> = workerEnv as unknown as Record<string, unknown>): Promise<Actor | undefined> => {
  const token = cookieOf(request)
  if (token === undefined || token.length > 2048) return undefined
  const key = await sessionKey(env)
  try {
    const { payload } = await jose.jwtVerify(token, key, { algorithms: ["HS256"], issuer: ISSUER, audience: AUDIENCE, requiredClaims: ["exp", "sub"] })
    const claims = Schema.decodeUnknownOption(SessionClaims)(payload)
    return claims._tag === "Some" ? { type: "user", id: claims.value.sub, name: claims.value.name } : undefined
  } catch {
    return undefined
  }
}

/** The logged-in person, or `Unauthorized` (401): for routes that write. */
export const requireUser = async (request: Request, env?: Record<string, unknown>): Promise<Actor> => {
  const user = await currentUser(request, env)
  if (user === undefined) throw new Unauthorized({ reason: "missing", message: "log in first (POST /login)" })
  return user
}

/** `requireUser` for Effect handlers. */
export const requireUserEffect = (request: Request): Effect.Effect<Actor, Unauthorized | ConfigurationError> =>
  Effect.tryPromise({
    try: () => requireUser(request),
    catch: (error) => (error instanceof ConfigurationError ? error : error instanceof Unauthorized ? error : new Unauthorized({ reason: "invalid", message: "session could not be read" })),
  })

const sessionCookie = (request: Request, value: string, maxAge: number) =>
  `${COOKIE}=${value}; HttpOnly; SameSite=Lax; Path=/; Max-Age=${maxAge}${new URL(request.url).protocol === "https:" ? "; Secure" : ""}`

const login = async (request: Request): Promise<Response> => {
  const body = Schema.decodeUnknownEither(LoginBody)(await request.json().catch(() => undefined))
  if (body._tag === "Left") throw new InvalidInput({ field: "name", message: "name: 1 to 40 characters, no control characters" })
  const actor: Actor = { type: "user", id: `u_${crypto.randomUUID().replace(/-/g, "").slice(0, 16)}`, name: body.right.name }
  const now = Math.floor(Date.now() / 1000)
  const token = await new jose.SignJWT({ name: actor.name })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setSubject(actor.id)
    .setIssuedAt(now)
    .setExpirationTime(now + SESSION_SECONDS)
    .sign(await sessionKey(workerEnv as unknown as Record<string, unknown>))
  return Response.json({ actor }, { headers: { "set-cookie": sessionCookie(request, token, SESSION_SECONDS), "cache-control": "no-store" } })
}

/** The session routes; `undefined` for any other request. */
export const sessionRoutes = async (request: Request, url: URL): Promise<Response | undefined> => {
  try {
    if (url.pathname === "/login" && request.method === "POST") return await login(request)
    if (url.pathname === "/me" && request.method === "GET") return Response.json({ actor: await requireUser(request) }, { headers: { "cache-control": "no-store" } })
    if (url.pathname === "/logout" && request.method === "POST") return new Response(null, { status: 204, headers: { "set-cookie": sessionCookie(request, "", 0) } })
    return undefined
  } catch (error) {
    if (isRealtimeError(error)) return toResponse(error)
    throw error
  }
}
