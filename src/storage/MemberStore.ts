/**
 * Storage of a room's members and their presence, behind a Tag. `Members.ts` keeps every member in
 * memory and holds the logic (joins, leaves, expiry, batched presence); this service persists it so
 * a room that hibernates or restarts wakes with its members.
 *
 * `layerSqlite` keeps one row per member in the `members` table (the statements `Members.ts` had
 * inline); `layerMemory` keeps JSON copies in a map.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer } from "effect"
import type { ConstraintViolation, StorageFailure } from "../RealtimeError.js"
import type { Actor } from "../schema/Common.js"
import { Sql, type SqlShape } from "../services/Sql.js"
import { sqliteStore } from "./SqliteStores.js"

/** A member as stored. */
export interface StoredMember {
  readonly key: string
  readonly actor: Actor
  readonly metadata: Record<string, unknown>
  readonly presence: Record<string, unknown>
  readonly via: "http" | "socket"
  readonly joinedAt: number
  readonly lastSeen: number
  readonly expiresAt: number | null
}

/** What a presence flush writes per member. */
export type PresenceUpdate = Pick<StoredMember, "key" | "presence" | "lastSeen" | "expiresAt">

export type WriteError = StorageFailure | ConstraintViolation

export interface MemberStoreShape {
  /** Every stored member (read once when the room starts). */
  readonly loadAll: Effect.Effect<ReadonlyArray<StoredMember>, StorageFailure>
  /** Insert or replace a member (its `joinedAt` is kept from the first save). */
  readonly save: (member: StoredMember) => Effect.Effect<void, WriteError>
  /** Presence, last seen and expiry of several members, atomically (one flush). */
  readonly savePresence: (batch: ReadonlyArray<PresenceUpdate>) => Effect.Effect<void, WriteError>
  readonly remove: (key: string) => Effect.Effect<void, WriteError>
  /** Remove every member. */
  readonly clear: Effect.Effect<void, WriteError>
}

/**
 * The member storage of one room.
 *
 * @since 0.1.0
 * @category services
 */
export class MemberStore extends Context.Tag("durable-realtime/MemberStore")<MemberStore, MemberStoreShape>() {}

export const membersMigration = {
  name: "members_001",
  statements: [
    `CREATE TABLE IF NOT EXISTS members (
      key TEXT PRIMARY KEY,
      actor TEXT NOT NULL,
      metadata TEXT NOT NULL,
      presence TEXT NOT NULL,
      via TEXT NOT NULL,
      joined_at INTEGER NOT NULL,
      last_seen INTEGER NOT NULL,
      expires_at INTEGER
    )`,
  ],
}

interface MemberRow extends Record<string, string | number | null> {
  key: string
  actor: string
  metadata: string
  presence: string
  via: string
  joined_at: number
  last_seen: number
  expires_at: number | null
}

const UPSERT = `INSERT INTO members (key, actor, metadata, presence, via, joined_at, last_seen, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(key) DO UPDATE SET actor = excluded.actor, metadata = excluded.metadata, presence = excluded.presence,
           via = excluded.via, last_seen = excluded.last_seen, expires_at = excluded.expires_at`

export const makeSqlite = (sql: SqlShape): MemberStoreShape => ({
  loadAll: Effect.map(sql.all<MemberRow>("SELECT * FROM members"), (rows) =>
    rows.map((row): StoredMember => ({
      key: row.key,
      actor: JSON.parse(row.actor),
      metadata: JSON.parse(row.metadata),
      presence: JSON.parse(row.presence),
      via: row.via === "socket" ? "socket" : "http",
      joinedAt: row.joined_at,
      lastSeen: row.last_seen,
      expiresAt: row.expires_at,
    })),
  ),
  save: (member) =>
    Effect.asVoid(
      sql.run(
        UPSERT,
        member.key,
        JSON.stringify(member.actor),
        JSON.stringify(member.metadata),
        JSON.stringify(member.presence),
        member.via,
        member.joinedAt,
        member.lastSeen,
        member.expiresAt,
      ),
    ),
  savePresence: (batch) =>
    sql.transaction((exec) => {
      for (const member of batch) {
        exec(
          "UPDATE members SET presence = ?, last_seen = ?, expires_at = ? WHERE key = ?",
          JSON.stringify(member.presence),
          member.lastSeen,
          member.expiresAt,
          member.key,
        )
      }
    }),
  remove: (key) => Effect.asVoid(sql.run("DELETE FROM members WHERE key = ?", key)),
  clear: Effect.asVoid(sql.run("DELETE FROM members")),
})

/** In a map of JSON copies: what is read back never aliases what the caller holds. */
export const makeMemory = (): MemberStoreShape => {
  const rows = new Map<string, string>()
  const copy = (member: StoredMember): StoredMember => ({
    key: member.key,
    actor: member.actor,
    metadata: member.metadata,
    presence: member.presence,
    via: member.via,
    joinedAt: member.joinedAt,
    lastSeen: member.lastSeen,
    expiresAt: member.expiresAt,
  })
  const read = (key: string): StoredMember | undefined => {
    const text = rows.get(key)
    return text === undefined ? undefined : (JSON.parse(text) as StoredMember)
  }
  return {
    loadAll: Effect.sync(() => [...rows.keys()].flatMap((key) => read(key) ?? [])),
    save: (member) =>
      Effect.sync(() => {
        const joinedAt = read(member.key)?.joinedAt ?? member.joinedAt
        rows.set(member.key, JSON.stringify({ ...copy(member), joinedAt }))
      }),
    savePresence: (batch) =>
      Effect.sync(() => {
        for (const update of batch) {
          const stored = read(update.key)
          if (stored !== undefined)
            rows.set(
              update.key,
              JSON.stringify({ ...stored, presence: update.presence, lastSeen: update.lastSeen, expiresAt: update.expiresAt }),
            )
        }
      }),
    remove: (key) => Effect.sync(() => void rows.delete(key)),
    clear: Effect.sync(() => rows.clear()),
  }
}

/**
 * @since 0.1.0
 * @category layers
 */
export const layerSqlite: Layer.Layer<MemberStore, never, Sql> = Layer.effect(MemberStore, Effect.map(Sql, makeSqlite))

/** The store's descriptor for an object kind's list of stores (`SqliteStores.ts`): built beside the others, with no Layer of its own. */
export const sqlite = sqliteStore(MemberStore, makeSqlite)

/**
 * A fresh, empty store each time the layer is built.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory: Layer.Layer<MemberStore> = Layer.sync(MemberStore, makeMemory)
