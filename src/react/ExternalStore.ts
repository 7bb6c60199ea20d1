/**
 * A small external store: a value, a way to replace it, and listeners. React reads it with
 * `useSyncExternalStore`; tests read it without React. Snapshots are immutable: `set` with a new
 * value notifies, the same value does not, so components re-render only on real changes.
 *
 * @since 0.1.0
 */
export interface ReadableStore<T> {
  readonly get: () => T
  readonly subscribe: (listener: () => void) => () => void
}

export interface ExternalStore<T> extends ReadableStore<T> {
  readonly set: (next: T) => void
  readonly update: (change: (current: T) => T) => void
}

export const createStore = <T>(initial: T): ExternalStore<T> => {
  let value = initial
  const listeners = new Set<() => void>()
  const set = (next: T) => {
    if (Object.is(next, value)) return
    value = next
    for (const listener of [...listeners]) listener()
  }
  return {
    get: () => value,
    subscribe: (listener) => {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    set,
    update: (change) => set(change(value)),
  }
}
