/**
 * Binary values of any size in SQLite, split into chunks.
 *
 * A Durable Object's SQLite refuses values over 2 MB, and a Yjs document (or a snapshot of one)
 * can be larger: every blob is stored as ordered parts of at most `CHUNK_BYTES`.
 *
 * @since 0.1.0
 */
import type { RawExec } from "../services/Sql.js"

/** Well under SQLite's 2 MB value limit in Durable Objects. */
export const CHUNK_BYTES = 1024 * 1024

export const blobsMigration = {
  name: "blobs_001",
  statements: ["CREATE TABLE IF NOT EXISTS blobs (key TEXT NOT NULL, part INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (key, part))"],
}

/** Write a blob (replacing any previous value). Call inside a transaction. */
export const writeBlob = (exec: RawExec, key: string, bytes: Uint8Array): void => {
  exec("DELETE FROM blobs WHERE key = ?", key)
  for (let offset = 0, part = 0; offset < bytes.byteLength || part === 0; offset += CHUNK_BYTES, part++) {
    exec("INSERT INTO blobs (key, part, data) VALUES (?, ?, ?)", key, part, bytes.subarray(offset, offset + CHUNK_BYTES))
  }
}

/** Read a blob back, or `undefined` when there is none. */
export const readBlob = (exec: RawExec, key: string): Uint8Array | undefined => {
  const parts = exec<{ data: ArrayBuffer }>("SELECT data FROM blobs WHERE key = ? ORDER BY part", key)
  if (parts.length === 0) return undefined
  const total = parts.reduce((sum, row) => sum + row.data.byteLength, 0)
  const bytes = new Uint8Array(total)
  let offset = 0
  for (const row of parts) {
    bytes.set(new Uint8Array(row.data), offset)
    offset += row.data.byteLength
  }
  return bytes
}

export const deleteBlobs = (exec: RawExec, keyPrefix: string): void => {
  exec("DELETE FROM blobs WHERE key >= ? AND key < ?", keyPrefix, `${keyPrefix}\uffff`)
}

export const blobBytes = (exec: RawExec, keyPrefix: string): number =>
  exec<{ n: number | null }>("SELECT SUM(LENGTH(data)) AS n FROM blobs WHERE key >= ? AND key < ?", keyPrefix, `${keyPrefix}\uffff`)[0]?.n ?? 0
