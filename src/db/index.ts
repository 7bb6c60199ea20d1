/**
 * `durable-realtime/db`: the realtime database. Declare tables, write through the Database API,
 * stream every committed insert, update and delete to the browsers allowed to see it.
 *
 * Public: the table DSL, `db(...)` and its handles, the change-stream route, and the Schemas of
 * the frames a subscriber decodes. Shard placement, the outbox and hub protocols are internal.
 * @since 0.1.0
 */
export { text, integer, real, boolean, json, timestamp, type Column, type ColumnKind, type ColumnSpec } from "./Columns.js"
export { table, type Table, type RowOf, type InsertOf, type PatchOf } from "./Table.js"
export type { DbOptions, RealtimeTableOptions, ChangeEvent, DatabaseDefinition } from "./Declaration.js"
export { db, type RealtimeDatabase } from "./facade.js"
export type { DatabaseService, TableHandle, Write, Select, Locator, WriteOptions } from "./Database.js"
export { DbAuthorizeInput } from "./Authorize.js"
export type { WriteResult } from "./Writes.js"
export { Filters, DatabaseChangeFrame, DbServerFrame, type DbGrant } from "./Protocol.js"
export { DB_SUBPROTOCOL } from "./Names.js"
export { dbHandler } from "./DbRoutes.js"
