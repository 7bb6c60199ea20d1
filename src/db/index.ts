/**
 * `durable-realtime/db`: the realtime database. Declare tables, write through the Database API,
 * stream every committed insert, update and delete to the browsers allowed to see it.
 * @since 0.1.0
 */
export { text, integer, real, boolean, json, timestamp, type Column, type ColumnKind, type ColumnSpec } from "./Columns.js"
export { table, type Table, type RowOf, type InsertOf, type PatchOf } from "./Table.js"
export { resolveDeclaration, type DbOptions, type RealtimeTableOptions, type ChangeEvent, type DatabaseDefinition } from "./Declaration.js"
export { db, type RealtimeDatabase } from "./facade.js"
export { makeDatabase, type DatabaseService, type TableHandle, type Write, type Select, type Locator, type WriteOptions } from "./Database.js"
export { DbAuthorizeInput } from "./Authorize.js"
export type { WriteResult } from "./Writes.js"
export * from "./Protocol.js"
export { DB_SUBPROTOCOL, OUTBOX_TABLE, migrationName } from "./Names.js"
export { shardOf } from "./Placement.js"
export { dbHandler, handleSubscription } from "../http/DbRoutes.js"
