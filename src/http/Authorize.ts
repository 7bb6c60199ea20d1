/**
 * `room(id).authorize(...)` / `channel(id).authorize(...)`: a short-lived grant a browser uses to
 * connect, with the URL and subprotocols it needs (`new WebSocket(grant.url, grant.protocols)`).
 * @since 0.1.0
 */
import { Effect, Schema } from "effect"
import type { ResolvedConfig } from "../Config.js"
import { invalidInputFromParseError, type ConfigurationError, type InvalidInput } from "../RealtimeError.js"
import { ResourceId } from "../schema/Common.js"
import { SUBPROTOCOL, TOKEN_PROTOCOL_PREFIX, YJS_SUBPROTOCOL } from "../schema/Protocol.js"
import { AuthorizeInput, type CrdtGrant, type LiveGrant } from "../schema/LiveGrant.js"
import * as Grants from "../services/Grants.js"

export { AuthorizeInput, type LiveGrant }
export type { AuthorizeInput as AuthorizeInputType } from "../schema/LiveGrant.js"

/** The path of a live route. */
export const livePath = (config: ResolvedConfig, kind: LiveKind, id: string, transport: "ws" | "events" | "yjs") =>
  `${config.routePrefix}/${encodeURIComponent(config.name)}/${routeSegment[kind]}/${encodeURIComponent(id)}/${transport}`

export type LiveKind = "room" | "channel" | "crdtRoom"

/** The path segment of each kind in live routes. */
export const routeSegment = { room: "rooms", channel: "channels", crdtRoom: "crdt" } as const

export const authorizeLive = (
  config: ResolvedConfig,
  env: Record<string, unknown>,
  kind: LiveKind,
  id: string,
  raw: typeof AuthorizeInput.Encoded,
): Effect.Effect<LiveGrant, InvalidInput | ConfigurationError> =>
  Effect.gen(function* () {
    const resource = yield* Effect.mapError(Schema.decodeUnknown(ResourceId)(id), (error) => invalidInputFromParseError(error, "id"))
    const input = yield* Effect.mapError(Schema.decodeUnknown(AuthorizeInput)(raw), (error) => invalidInputFromParseError(error))
    const grants = yield* Grants.fromEnv(env)
    const { token, expiresAt } = yield* grants.sign(
      { type: kind, instance: config.name, resource, actor: input.actor, permissions: [...new Set(input.permissions)] },
      input.ttlSeconds,
    )
    const base = input.baseUrl?.replace(/\/+$/, "") ?? ""
    const wsBase = base.replace(/^http(s?):/, "ws$1:")
    return {
      url: `${wsBase}${livePath(config, kind, resource, "ws")}`,
      eventsUrl: `${base}${livePath(config, kind, resource, "events")}`,
      protocols: [SUBPROTOCOL, `${TOKEN_PROTOCOL_PREFIX}${token}`],
      token,
      expiresAt,
    }
  })

/** A CRDT room grant: the live grant plus the y-websocket endpoint. Defaults allow writing the document. */
export const authorizeCrdt = (
  config: ResolvedConfig,
  env: Record<string, unknown>,
  id: string,
  raw: typeof AuthorizeInput.Encoded,
): Effect.Effect<CrdtGrant, InvalidInput | ConfigurationError> =>
  Effect.map(authorizeLive(config, env, "crdtRoom", id, { permissions: ["read", "write", "presence", "publish"], ...raw }), (grant) => {
    const url = grant.url.replace(/\/ws$/, "/yjs")
    return {
      ...grant,
      yjs: { url, serverUrl: url.replace(/\/yjs$/, ""), roomName: "yjs", protocols: [YJS_SUBPROTOCOL, grant.protocols[1]!] },
    }
  })
