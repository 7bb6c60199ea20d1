/**
 * Rate budgets for inbound socket frames: token buckets in frames AND bytes, kept per connection
 * and per actor (every connection of one actor in one object shares the actor's bucket), so forty
 * sockets opened on one grant get one actor's budget, not forty.
 *
 * Generic on purpose: any socket protocol (JSON frames, y-websocket, change streams) admits each
 * inbound frame with `admit(connectionId, actorKey, bytes, now)` before doing any work on it.
 *
 * The buckets live in memory only. Hibernation or eviction drops them, which only refills them:
 * a budget never outlives the object it protects, and an idle object stores nothing for it.
 * `now` is passed in (from Effect's `Clock` at the call site), so tests can drive time.
 *
 * @since 0.2.0
 */

/** One token bucket's limits: sustained rate and burst, in frames and in bytes. */
export interface RateLimits {
  /** Sustained frames per second. */
  readonly perSecond: number
  /** Frames that may arrive at once after a quiet period. */
  readonly burst: number
  /** Sustained bytes per second (text frames count UTF-16 code units, binary frames bytes). */
  readonly bytesPerSecond: number
  /** Bytes that may arrive at once after a quiet period; never below the largest allowed frame. */
  readonly bytesBurst: number
}

/** Why a frame was refused: which bucket ran dry, and in which unit. */
export interface RateRefusal {
  readonly scope: "connection" | "actor"
  readonly unit: "frames" | "bytes"
  readonly limits: RateLimits
}

interface Bucket {
  frames: number
  bytes: number
  at: number
}

const fresh = (limits: RateLimits, now: number): Bucket => ({ frames: limits.burst, bytes: limits.bytesBurst, at: now })

const refill = (bucket: Bucket, limits: RateLimits, now: number) => {
  const elapsed = Math.max(0, now - bucket.at) / 1000
  bucket.frames = Math.min(limits.burst, bucket.frames + elapsed * limits.perSecond)
  bucket.bytes = Math.min(limits.bytesBurst, bucket.bytes + elapsed * limits.bytesPerSecond)
  bucket.at = now
}

/** The unit a bucket lacks for a frame of `bytes`, or undefined when it can pay. */
const lacking = (bucket: Bucket, bytes: number): "frames" | "bytes" | undefined =>
  bucket.frames < 1 ? "frames" : bucket.bytes < bytes ? "bytes" : undefined

export interface RateBudget {
  /**
   * Admit one inbound frame of `bytes` for a connection of an actor: both buckets must be able to
   * pay, and a refused frame spends nothing (so a flood cannot starve the actor's other sockets
   * for longer than the flood itself).
   */
  readonly admit: (connectionId: string, actorKey: string, bytes: number, now: number) => RateRefusal | undefined
  /**
   * Admit one write that arrived without a connection (HTTP/RPC on behalf of an identified actor):
   * only the actor's bucket pays, the same bucket its sockets share.
   */
  readonly admitActor: (actorKey: string, bytes: number, now: number) => RateRefusal | undefined
  /** A connection closed: drop its bucket, and its actor's once no connection of it is left. */
  readonly forget: (connectionId: string) => void
  /** Buckets held (for tests: the budget's memory is bounded by open connections). */
  readonly size: () => { readonly connections: number; readonly actors: number }
}

export const makeRateBudget = (limits: { readonly connection: RateLimits; readonly actor: RateLimits }): RateBudget => {
  const connections = new Map<string, Bucket & { readonly actorKey: string }>()
  const actors = new Map<string, Bucket & { users: number }>()
  // Actors seen only over HTTP have no connection whose close would drop their bucket: once there
  // are many, the ones that have refilled completely (they hold nothing worth keeping) are swept.
  const sweepAbove = 1024
  const refillMs = Math.max(limits.actor.burst / limits.actor.perSecond, limits.actor.bytesBurst / limits.actor.bytesPerSecond) * 1000
  const sweep = (now: number) => {
    for (const [key, bucket] of actors) if (bucket.users <= 0 && now - bucket.at >= refillMs) actors.delete(key)
  }
  return {
    admitActor: (actorKey, bytes, now) => {
      let shared = actors.get(actorKey)
      if (shared === undefined) {
        if (actors.size >= sweepAbove) sweep(now)
        shared = { ...fresh(limits.actor, now), users: 0 }
        actors.set(actorKey, shared)
      }
      refill(shared, limits.actor, now)
      const lacks = lacking(shared, bytes)
      if (lacks !== undefined) return { scope: "actor", unit: lacks, limits: limits.actor }
      shared.frames -= 1
      shared.bytes -= bytes
      return undefined
    },
    admit: (connectionId, actorKey, bytes, now) => {
      let own = connections.get(connectionId)
      if (own === undefined) {
        own = { ...fresh(limits.connection, now), actorKey }
        connections.set(connectionId, own)
        const shared = actors.get(actorKey)
        if (shared === undefined) actors.set(actorKey, { ...fresh(limits.actor, now), users: 1 })
        else shared.users++
      }
      const shared = actors.get(own.actorKey)!
      refill(own, limits.connection, now)
      refill(shared, limits.actor, now)
      const connectionLacks = lacking(own, bytes)
      if (connectionLacks !== undefined) return { scope: "connection", unit: connectionLacks, limits: limits.connection }
      const actorLacks = lacking(shared, bytes)
      if (actorLacks !== undefined) return { scope: "actor", unit: actorLacks, limits: limits.actor }
      own.frames -= 1
      own.bytes -= bytes
      shared.frames -= 1
      shared.bytes -= bytes
      return undefined
    },
    forget: (connectionId) => {
      const own = connections.get(connectionId)
      if (own === undefined) return
      connections.delete(connectionId)
      const shared = actors.get(own.actorKey)
      if (shared !== undefined && --shared.users <= 0) actors.delete(own.actorKey)
    },
    size: () => ({ connections: connections.size, actors: actors.size }),
  }
}

/** A readable sentence for a refusal, for the `LimitExceeded` error frame. */
export const describeRefusal = (refusal: RateRefusal): string => {
  const who = refusal.scope === "actor" ? "this actor's connections together" : "this connection"
  return refusal.unit === "frames"
    ? `rate limit: ${who} may send ${refusal.limits.perSecond} frames per second (burst ${refusal.limits.burst})`
    : `rate limit: ${who} may send ${refusal.limits.bytesPerSecond} bytes per second (burst ${refusal.limits.bytesBurst})`
}
