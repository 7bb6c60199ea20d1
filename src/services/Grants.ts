/**
 * Short-lived grants (JWTs signed with `jose`) that let a browser connect to one room, channel,
 * CRDT room or table stream with a fixed scope.
 *
 * Signing: HS256 with the first configured key, its `kid` in the header. Verification: an
 * algorithm allow-list (HS256 only: `alg: none` and asymmetric-algorithm confusion are refused),
 * the key picked by `kid` among all configured keys (two valid at once during rotation), issuer,
 * audience per grant type, required `exp` with a small clock-skew allowance, and the scope
 * (instance and resource) compared with what the connection asks for. The token is never echoed in
 * an error message.
 *
 * @since 0.1.0
 */
import { Clock, Effect, Schema } from "effect"
import * as jose from "jose"
import { ConfigurationError, InvalidInput, Unauthorized } from "../RealtimeError.js"
import { Actor } from "../schema/Common.js"

export const GrantType = Schema.Literal("room", "channel", "crdtRoom", "table")
export type GrantType = typeof GrantType.Type

export const Permission = Schema.Literal("read", "publish", "presence", "write")
export type Permission = typeof Permission.Type

/** What a grant binds. `filters` and `events` are used by table grants. */
export const GrantScope = Schema.Struct({
  type: GrantType,
  /** The realtime instance name, or `namespace/database` for tables. */
  instance: Schema.String,
  /** Room, channel or document id; table name for tables. */
  resource: Schema.String,
  actor: Actor,
  /** Actor metadata bound into the grant as the issuer wrote it (table grants: `{ kind, id, tenantId }`). */
  actorMetadata: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Unknown })),
  permissions: Schema.Array(Permission),
  filters: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Unknown })),
  events: Schema.optional(Schema.Array(Schema.Literal("insert", "update", "delete"))),
})
export type GrantScope = typeof GrantScope.Type

export interface VerifiedGrant extends GrantScope {
  readonly expiresAt: number
  readonly grantId: string
}

export interface GrantKey {
  readonly kid: string
  readonly secret: string
}

export const ISSUER = "durable-realtime"
export const audienceOf = (type: GrantType) => `durable-realtime:${type}`
/** Tokens longer than this are refused before any parsing. */
export const MAX_TOKEN_LENGTH = 4096
/** Allowed clock skew on `exp`/`nbf`/`iat`, in seconds. */
export const CLOCK_SKEW_SECONDS = 5
/**
 * Longest grant that may be issued (24 h), and the longest lifetime (`exp - iat`) a presented
 * grant may claim: a token that says it lives for ten years was not issued by this library.
 */
export const MAX_TTL_SECONDS = 24 * 3600

const Claims = Schema.Struct({
  scope: GrantScope,
  jti: Schema.String,
  exp: Schema.Number,
  iat: Schema.Number,
})

export interface GrantsShape {
  readonly sign: (scope: GrantScope, ttlSeconds: number) => Effect.Effect<{ readonly token: string; readonly expiresAt: number }, InvalidInput>
  /**
   * Verify a token for a connection to `expected`. Expired → `Unauthorized("expired")` (refresh);
   * bad signature, wrong alg/issuer/audience → `Unauthorized("invalid" | "wrong-audience")`;
   * another instance or resource → `Unauthorized("wrong-scope")`.
   */
  readonly verify: (
    token: string,
    expected: { readonly type: GrantType; readonly instance: string; readonly resource: string },
  ) => Effect.Effect<VerifiedGrant, Unauthorized>
}

/**
 * HMAC keys imported once per isolate, by secret and use: given raw bytes, jose imports a
 * CryptoKey for every token it signs or checks (one `crypto.subtle.importKey` per socket that
 * connects). Keyed by the secret itself, so a rotated secret gets its own key and no env object
 * identity is relied on.
 */
const hmacKeys = new Map<string, CryptoKey>()
const hmacKey = async (secret: string, use: "sign" | "verify"): Promise<CryptoKey> => {
  const cacheKey = `${use}:${secret}`
  // The key, not the promise of it, is kept: a promise begun by one request must not be awaited by another.
  const cached = hmacKeys.get(cacheKey)
  if (cached !== undefined) return cached
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [use])
  hmacKeys.set(cacheKey, key)
  return key
}

export const make = (keys: ReadonlyArray<GrantKey>): GrantsShape => {
  if (keys.length === 0) throw new Error("durable-realtime: Grants need at least one key")
  const secrets = new Map(keys.map((key) => [key.kid, key.secret]))
  const signing = keys[0]

  const sign: GrantsShape["sign"] = (scope, ttlSeconds) =>
    Effect.gen(function* () {
      if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > MAX_TTL_SECONDS) {
        return yield* new InvalidInput({ field: "ttlSeconds", message: `ttlSeconds: must be an integer from 1 to ${MAX_TTL_SECONDS}` })
      }
      const nowMs = yield* Clock.currentTimeMillis
      const now = Math.floor(nowMs / 1000)
      // `exp` is whole seconds: round up, so a grant never lives shorter than `ttlSeconds`
      // (rounding down made a 1-second grant expire on arrival).
      const exp = Math.ceil(nowMs / 1000 + ttlSeconds)
      const expiresAt = exp * 1000
      const token = yield* Effect.promise(async () =>
        new jose.SignJWT({ scope: scope as unknown as jose.JWTPayload })
          .setProtectedHeader({ alg: "HS256", kid: signing.kid, typ: "JWT" })
          .setIssuer(ISSUER)
          .setAudience(audienceOf(scope.type))
          .setSubject(scope.actor.id)
          .setIssuedAt(now)
          .setExpirationTime(exp)
          .setJti(crypto.randomUUID())
          .sign(await hmacKey(signing.secret, "sign")),
      )
      return { token, expiresAt }
    })

  const verify: GrantsShape["verify"] = (token, expected) =>
    Effect.gen(function* () {
      if (token.length === 0) return yield* new Unauthorized({ reason: "missing", message: "no grant presented" })
      if (token.length > MAX_TOKEN_LENGTH) return yield* new Unauthorized({ reason: "invalid", message: "grant is too long" })
      const now = Math.floor((yield* Clock.currentTimeMillis) / 1000)
      const verified = yield* Effect.tryPromise({
        try: () =>
          jose.jwtVerify(
            token,
            (header) => {
              const secret = header.kid === undefined ? undefined : secrets.get(header.kid)
              if (secret === undefined) throw new jose.errors.JWSInvalid("unknown key id")
              return hmacKey(secret, "verify")
            },
            {
              algorithms: ["HS256"],
              issuer: ISSUER,
              audience: audienceOf(expected.type),
              requiredClaims: ["exp", "iat", "jti"],
              clockTolerance: CLOCK_SKEW_SECONDS,
              currentDate: new Date(now * 1000),
            },
          ),
        catch: (error) => {
          if (error instanceof jose.errors.JWTExpired) return new Unauthorized({ reason: "expired", message: "grant expired" })
          if (error instanceof jose.errors.JWTClaimValidationFailed && error.claim === "aud") {
            return new Unauthorized({ reason: "wrong-audience", message: `grant is not for a ${expected.type}` })
          }
          return new Unauthorized({ reason: "invalid", message: "grant is invalid" })
        },
      })
      const claims = yield* Effect.mapError(
        Schema.decodeUnknown(Claims)(verified.payload),
        () => new Unauthorized({ reason: "invalid", message: "grant has no valid scope" }),
      )
      // jose checks `exp` but not that `iat` is in the past, nor how long a grant claims to live.
      // `sign` rounds `exp` up to the next second, hence the one extra second.
      if (claims.iat > now + CLOCK_SKEW_SECONDS) {
        return yield* new Unauthorized({ reason: "invalid", message: "grant is issued in the future" })
      }
      if (claims.exp - claims.iat > MAX_TTL_SECONDS + 1 || claims.exp > now + MAX_TTL_SECONDS + 1 + CLOCK_SKEW_SECONDS) {
        return yield* new Unauthorized({ reason: "invalid", message: `grant lives longer than ${MAX_TTL_SECONDS} s` })
      }
      const scope = claims.scope
      if (scope.type !== expected.type || scope.instance !== expected.instance || scope.resource !== expected.resource) {
        return yield* new Unauthorized({ reason: "wrong-scope", message: `grant is for another ${expected.type}` })
      }
      return { ...scope, expiresAt: claims.exp * 1000, grantId: claims.jti }
    })

  return { sign, verify }
}

/**
 * The development key, used only when the app opts in with `REALTIME_DEV_GRANTS=1` and has no
 * secret. Its value is public (it is in this file): a token signed with it opens anything, so it
 * is never used by default and never with `REALTIME_ENV=production`.
 */
export const DEVELOPMENT_SECRET = "durable-realtime-development-secret-do-not-use-in-production"
/** The key id of the development key. */
export const DEVELOPMENT_KID = "development"

/** The env variable that opts in to the development key when no secret is set. */
export const DEV_GRANTS_VAR = "REALTIME_DEV_GRANTS"

/**
 * The key id of a secret: derived from the secret itself (a 32-bit FNV-1a digest, which says
 * nothing useful about a long secret), so a token signed while a secret was "current" still
 * finds the same secret after rotation has made it "previous".
 */
export const keyIdOf = (secret: string): string => {
  let hash = 0x811c9dc5
  for (let i = 0; i < secret.length; i++) {
    hash ^= secret.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193) >>> 0
  }
  return `k${hash.toString(16).padStart(8, "0")}`
}

const nonEmpty = (value: unknown): string | undefined => (typeof value === "string" && value !== "" ? value : undefined)
const optedIn = (value: unknown): boolean => value === "1" || value === "true" || value === true

// One log line per problem per isolate: a misconfigured Worker refuses every grant, and a line
// per refused socket would bury the one thing the operator needs to read.
const logged = new Set<string>()
const refuse = (error: ConfigurationError): Effect.Effect<never, ConfigurationError> =>
  Effect.suspend(() => {
    if (!logged.has(error.message)) {
      logged.add(error.message)
      console.error(`durable-realtime: ${error.message}`)
    }
    return Effect.fail(error)
  })

/**
 * Keys from the Worker's env: `REALTIME_GRANT_SECRET` (signs and verifies) and optionally
 * `REALTIME_GRANT_SECRET_PREVIOUS` (verify-only during rotation); each key's id is derived from
 * its secret ({@link keyIdOf}).
 *
 * Fails closed: without a secret, issuing and verifying grants both fail with a
 * `ConfigurationError` (and one log line saying what to set), unless the app opted in to the
 * public development key with `REALTIME_DEV_GRANTS=1` — which is refused when `REALTIME_ENV` is
 * `production`. The env is the Worker's (or the Durable Object's) own bindings, so the decision is
 * the same in every isolate and never depends on the request.
 */
export const keysFromEnv = (env: Record<string, unknown>): Effect.Effect<ReadonlyArray<GrantKey>, ConfigurationError> => {
  const current = nonEmpty(env.REALTIME_GRANT_SECRET)
  const previous = nonEmpty(env.REALTIME_GRANT_SECRET_PREVIOUS)
  if (current === undefined) {
    if (!optedIn(env[DEV_GRANTS_VAR])) {
      return refuse(
        new ConfigurationError({
          setting: "REALTIME_GRANT_SECRET",
          message:
            "REALTIME_GRANT_SECRET is not set, so no grant can be issued or verified. Set it to a long random value " +
            "(`wrangler secret put REALTIME_GRANT_SECRET`; locally in .dev.vars), or opt in to the public development key with REALTIME_DEV_GRANTS=1 (never in production).",
        }),
      )
    }
    if (env.REALTIME_ENV === "production") {
      return refuse(
        new ConfigurationError({
          setting: "REALTIME_GRANT_SECRET",
          message: "REALTIME_GRANT_SECRET is not set and REALTIME_DEV_GRANTS is refused with REALTIME_ENV=production: set the secret (`wrangler secret put REALTIME_GRANT_SECRET`).",
        }),
      )
    }
    return Effect.succeed([{ kid: DEVELOPMENT_KID, secret: DEVELOPMENT_SECRET }])
  }
  const signing = { kid: keyIdOf(current), secret: current }
  return Effect.succeed(previous === undefined || previous === current ? [signing] : [signing, { kid: keyIdOf(previous), secret: previous }])
}

/** The grant service for an env's keys ({@link keysFromEnv}): fails closed without a secret. */
export const fromEnv = (env: Record<string, unknown>): Effect.Effect<GrantsShape, ConfigurationError> => Effect.map(keysFromEnv(env), make)
