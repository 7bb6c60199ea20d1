/**
 * Awareness (editor cursors, selections, user names) in the y-protocols wire format, held in
 * memory only: nothing is stored and nothing is written to a socket attachment.
 *
 * Semantics follow y-protocols: each client's state has a clock, a higher clock wins, a `null`
 * state removes the client (and is forwarded so others remove it too), and a state not renewed
 * for `AWARENESS_TIMEOUT_MS` is removed. States a socket announced are removed when it closes.
 *
 * Who may announce a client id is decided by the caller (the id's owner, see `ClientOwners`);
 * what others see of a state is stamped by the server with the announcing actor (`stampState`),
 * so a name cannot be forged.
 *
 * @since 0.1.0
 */
import * as decoding from "lib0/decoding"
import * as encoding from "lib0/encoding"

/** y-protocols' `outdatedTimeout`: clients renew every 15 s. */
export const AWARENESS_TIMEOUT_MS = 30_000

export interface AwarenessState {
  readonly clientId: number
  readonly clock: number
  readonly state: Record<string, unknown> | null
}

interface Entry {
  clock: number
  state: Record<string, unknown> | null
  updatedAt: number
  owner: string | null
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false })

/** Limits checked while decoding, before any state is parsed as JSON. */
export interface AwarenessLimits {
  /** Most states one update may carry. */
  readonly maxStates: number
  /** Largest state, as UTF-8 bytes of its JSON text. */
  readonly maxStateBytes: number
}

const unlimited: AwarenessLimits = { maxStates: Number.POSITIVE_INFINITY, maxStateBytes: Number.POSITIVE_INFINITY }

/** Decode an awareness update; throws on malformed bytes or JSON, or an update past `limits`. */
export const decodeAwarenessUpdate = (update: Uint8Array, limits: AwarenessLimits = unlimited): Array<AwarenessState> => {
  const decoder = decoding.createDecoder(update)
  const length = decoding.readVarUint(decoder)
  if (length > limits.maxStates) throw new Error(`awareness update carries ${length} client states, more than ${limits.maxStates}`)
  const states: Array<AwarenessState> = []
  for (let index = 0; index < length; index++) {
    const clientId = decoding.readVarUint(decoder)
    const clock = decoding.readVarUint(decoder)
    if (clientId > 0xffffffff || !Number.isSafeInteger(clock)) throw new Error("awareness client id or clock out of range")
    const bytes = decoding.readVarUint8Array(decoder)
    if (bytes.byteLength > limits.maxStateBytes) throw new Error(`awareness state of client ${clientId} is ${bytes.byteLength} bytes, over ${limits.maxStateBytes}`)
    const state = JSON.parse(utf8.decode(bytes)) as unknown
    if (state !== null && (typeof state !== "object" || Array.isArray(state))) throw new Error("awareness state must be an object or null")
    states.push({ clientId, clock, state: state as Record<string, unknown> | null })
  }
  if (decoding.hasContent(decoder)) throw new Error("trailing bytes after the awareness update")
  return states
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === "object" && !Array.isArray(value)

/**
 * What others see of a state: the server writes `actor` (the announcing actor's type, id and
 * name) and the `name` of `user` (the field y-codemirror, y-prosemirror and most editors show
 * on remote cursors; a string `user` becomes the name), over whatever the client sent.
 */
export const stampState = (
  state: Record<string, unknown> | null,
  actor: { readonly type: string; readonly id: string; readonly name?: string | undefined },
): Record<string, unknown> | null => {
  if (state === null) return null
  const name = actor.name ?? actor.id
  const stamped: Record<string, unknown> = { ...state, actor: actor.name === undefined ? { type: actor.type, id: actor.id } : { type: actor.type, id: actor.id, name: actor.name } }
  if (isPlainObject(state.user)) stamped.user = { ...state.user, name }
  else if (state.user !== undefined) stamped.user = name
  return stamped
}

export const encodeAwarenessUpdate = (states: ReadonlyArray<AwarenessState>): Uint8Array => {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, states.length)
  for (const { clientId, clock, state } of states) {
    encoding.writeVarUint(encoder, clientId)
    encoding.writeVarUint(encoder, clock)
    encoding.writeVarString(encoder, JSON.stringify(state))
  }
  return encoding.toUint8Array(encoder)
}

export const makeAwareness = () => {
  const entries = new Map<number, Entry>()

  /**
   * Merge received states; returns those that changed anything (to forward). `owner` is the
   * connection that sent them, so its clients can be removed when it closes; a newer state from
   * another connection (the same actor reconnecting: the caller checked the id's owner) moves it.
   */
  const apply = (states: ReadonlyArray<AwarenessState>, owner: string | null, now: number): Array<AwarenessState> => {
    const changed: Array<AwarenessState> = []
    for (const incoming of states) {
      const current = entries.get(incoming.clientId)
      const newer = current === undefined || incoming.clock > current.clock || (incoming.clock === current.clock && incoming.state === null && current.state !== null)
      if (!newer) {
        if (current !== undefined && incoming.clock === current.clock) current.updatedAt = now
        continue
      }
      entries.set(incoming.clientId, { clock: incoming.clock, state: incoming.state, updatedAt: now, owner })
      changed.push(incoming)
    }
    return changed
  }

  /** Every present client (for a newly connected socket or a read). */
  const present = (): Array<AwarenessState> =>
    [...entries].filter(([, entry]) => entry.state !== null).map(([clientId, entry]) => ({ clientId, clock: entry.clock, state: entry.state }))

  const remove = (select: (entry: Entry) => boolean): Array<AwarenessState> => {
    const removed: Array<AwarenessState> = []
    for (const [clientId, entry] of entries) {
      if (entry.state === null || !select(entry)) continue
      // The clock stays (as the reference server does): receivers remove a state on a null of
      // the same clock, and the owner's next renewal (clock + 1) is new again.
      entry.state = null
      removed.push({ clientId, clock: entry.clock, state: null })
    }
    return removed
  }

  /** Clients announced by a socket that closed: removal states to forward. */
  const removeOwner = (owner: string) => remove((entry) => entry.owner === owner)

  /** Clients not renewed within the timeout: removal states to forward. */
  const expire = (now: number) => remove((entry) => now - entry.updatedAt >= AWARENESS_TIMEOUT_MS)

  /** When the next present client would time out, if any. */
  const nextExpiry = (): number | null => {
    let next: number | null = null
    for (const entry of entries.values()) {
      if (entry.state === null) continue
      const at = entry.updatedAt + AWARENESS_TIMEOUT_MS
      if (next === null || at < next) next = at
    }
    return next
  }

  const clock = (clientId: number) => entries.get(clientId)?.clock ?? 0

  /** What the server holds for a client id (removed clients keep their clock). */
  const known = (clientId: number): { readonly clock: number; readonly state: Record<string, unknown> | null } | undefined => entries.get(clientId)

  const presentCount = () => {
    let count = 0
    for (const entry of entries.values()) if (entry.state !== null) count++
    return count
  }

  const clear = () => entries.clear()

  return { apply, present, removeOwner, expire, nextExpiry, clock, known, presentCount, clear }
}

export type Awareness = ReturnType<typeof makeAwareness>
