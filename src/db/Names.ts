/**
 * The fixed names of the realtime database: protocol, SQL objects, migrations.
 *
 * The product documents write them with `<prefix>`. The prefix is `durable-realtime` on the wire
 * (subprotocols) and its SQL-identifier form `durable_realtime` in storage (table, index and
 * migration names), so no SQL name ever needs a hyphen.
 *
 * @since 0.1.0
 */
import { TOKEN_PROTOCOL_PREFIX } from "../schema/Protocol.js"

export const PREFIX = "durable-realtime"
export const SQL_PREFIX = "durable_realtime"

/** Subprotocol of a change-stream socket; the server selects it when offered. */
export const DB_SUBPROTOCOL = `${PREFIX}.realtime.v1`
/** The grant travels as `durable-realtime.jwt.<token>`, as for rooms. */
export const DB_TOKEN_PROTOCOL_PREFIX = TOKEN_PROTOCOL_PREFIX

export const OUTBOX_TABLE = `${SQL_PREFIX}_db_realtime_outbox`
export const OUTBOX_PENDING_INDEX = `${OUTBOX_TABLE}_pending`

/** `durable_realtime_001_schema`, `durable_realtime_002_realtime`, then `_003_schema`... per schema change. */
export const migrationName = (n: number, what: "schema" | "realtime") => `${SQL_PREFIX}_${String(n).padStart(3, "0")}_${what}`
