/**
 * The databases the db tests run against (registered in the test Worker's isolate, where the
 * shard and hub objects run too).
 */
import { boolean, db, integer, json, real, table, text, timestamp } from "../src/db/index.js"

export const posts = table({
  id: text().primaryKey(),
  tenantId: text().notNull().index(),
  authorId: text().notNull().index(),
  slug: text().notNull().unique(),
  title: text().notNull(),
  published: boolean().notNull().default(false),
  views: integer().notNull().default(0),
  score: real(),
  tags: json<ReadonlyArray<string>>(),
  publishedAt: timestamp(),
})

export const notes = table({
  id: integer().primaryKey(),
  channel: text().notNull().index(),
  body: text().notNull(),
})

/** Partitioned by two required filters: moving a task between boards changes its hub. */
export const tasks = table({
  id: text().primaryKey(),
  orgId: text().notNull(),
  boardId: text().notNull().index(),
  title: text().notNull(),
})

/** Not streamed: writes to it make no outbox rows. */
export const audit = table({ id: text().primaryKey(), what: text() })

/** Posts are private and partitioned by tenant (rows placed by tenantId, key `slug`); notes are public. */
export const testDb = db({
  name: "dbtest",
  schema: { posts, notes, audit, tasks },
  realtime: {
    tables: {
      posts: { filters: ["tenantId", "authorId", "published"], requiredFilters: ["tenantId"], key: "slug" },
      notes: { access: "public", filters: ["channel"] },
      tasks: { access: "public", filters: ["orgId", "boardId"], requiredFilters: ["orgId", "boardId"] },
    },
  },
  shards: 3,
  bufferSize: 20,
})

/**
 * R5 probes: one shard, so every tenant shares it (and its drain); three delivery attempts, so a
 * failing hub's change is parked within seconds.
 */
export const items = table({
  id: text().primaryKey(),
  tenantId: text().notNull().index(),
  title: text().notNull(),
})

export const r5Db = db({
  name: "r5",
  schema: { items },
  realtime: { tables: { items: { filters: ["tenantId"], requiredFilters: ["tenantId"] } } },
  shards: 1,
  deliveryAttempts: 3,
  // Small, so the buffer's size bound is reached with a few rows.
  bufferBytes: 65_536,
})

/**
 * Streams hosted in the shards (`streamFrom: "shard"`): two shards, a private table partitioned by
 * tenant and a public one partitioned by org and board (moving a card between boards moves it
 * between two partitions of the same shard). Small buffer, so a resume past it is seen quickly.
 */
export const cards = table({
  id: text().primaryKey(),
  orgId: text().notNull(),
  boardId: text().notNull(),
  title: text().notNull(),
  rank: integer().notNull().default(0),
})

export const memos = table({
  id: text().primaryKey(),
  tenantId: text().notNull(),
  authorId: text().notNull(),
  body: text().notNull(),
})

export const coloDb = db({
  name: "colo",
  schema: { cards, memos },
  realtime: {
    tables: {
      cards: { access: "public", filters: ["orgId", "boardId"], requiredFilters: ["orgId", "boardId"], streamFrom: "shard" },
      memos: { filters: ["tenantId", "authorId"], requiredFilters: ["tenantId"], streamFrom: "shard" },
    },
  },
  shards: 2,
  bufferSize: 5,
})
