/**
 * The rows of one table subscription as an external store: the snapshot first, then every change
 * applied by the row's key, over `subscribeTable` (resume, grant refresh, resync on a gap).
 *
 * @since 0.1.0
 */
import { subscribeTable, type TableChange, type TableStatus, type TableSubscription } from "../client/index.js"
import type { RealtimeError } from "../RealtimeError.js"
import { createStore } from "./ExternalStore.js"
import type { RealtimeClient, SharedStore } from "./RealtimeClient.js"

export interface TableState<Row> {
  /** The rows in arrival order (snapshot order, then inserts at the end). */
  readonly rows: ReadonlyArray<Row>
  readonly status: TableStatus
  readonly error: RealtimeError | undefined
  /** The seq of the last change applied. */
  readonly seq: number | undefined
}

export interface TableStoreOptions<Row> {
  readonly filters?: Readonly<Record<string, unknown>>
  /** The key of a row. Default: its `id` column. */
  readonly getKey?: (row: Row) => string
  /** Rows in the first snapshot. Default 1,000. */
  readonly snapshotLimit?: number
}

const defaultKey = (row: unknown): string => String((row as { id?: unknown }).id)

/** Apply one change to a keyed row map; returns the same map when nothing changed. */
export const applyChange = <Row>(rows: ReadonlyMap<string, Row>, change: TableChange<Row>, getKey: (row: Row) => string): ReadonlyMap<string, Row> => {
  const image = change.new ?? change.old
  if (image === null) return rows
  const key = getKey(image)
  const next = new Map(rows)
  if (change.new === null) {
    if (!next.delete(key)) return rows
  } else next.set(key, change.new)
  return next
}

export class TableStore<Row> implements SharedStore {
  readonly state = createStore<TableState<Row>>({ rows: [], status: "connecting", error: undefined, seq: undefined })
  #rows: ReadonlyMap<string, Row> = new Map()
  #subscription: TableSubscription | undefined
  readonly #getKey: (row: Row) => string

  constructor(
    private readonly client: RealtimeClient,
    readonly table: string,
    private readonly options: TableStoreOptions<Row>,
  ) {
    this.#getKey = options.getKey ?? defaultKey
  }

  #publish(patch: Partial<TableState<Row>>) {
    this.state.update((state) => ({ ...state, rows: [...this.#rows.values()], seq: this.#subscription?.seq() ?? state.seq, ...patch }))
  }

  start(): void {
    const { options } = this.client
    const filters = this.options.filters ?? {}
    this.#subscription = subscribeTable<Row>({
      grant: () => options.grant("table", this.table, { filters }),
      ...(options.baseUrl === undefined ? {} : { baseUrl: options.baseUrl }),
      ...(options.connect === undefined ? {} : { connect: options.connect }),
      ...(options.WebSocket === undefined ? {} : { WebSocket: options.WebSocket }),
      ...(options.backoff === undefined ? {} : { backoff: options.backoff }),
      ...(options.timers === undefined ? {} : { timers: options.timers }),
      ...(this.options.snapshotLimit === undefined ? {} : { snapshotLimit: this.options.snapshotLimit }),
      onSnapshot: ({ rows }) => {
        this.#rows = new Map(rows.map((row) => [this.#getKey(row), row]))
        this.#publish({})
      },
      onChange: (change) => {
        const next = applyChange(this.#rows, change, this.#getKey)
        if (next === this.#rows) return
        this.#rows = next
        this.#publish({})
      },
      onStatus: (status, error) => this.#publish({ status, error: status === "live" && error === undefined ? undefined : (error ?? this.state.get().error) }),
    })
  }

  stop(): void {
    this.#subscription?.close()
    this.#subscription = undefined
    this.state.update((state) => ({ ...state, status: "closed" }))
  }
}

/** The shared store of a table subscription (one per table and filters). */
export const tableStoreOf = <Row>(client: RealtimeClient, table: string, options: TableStoreOptions<Row>): { key: string; store: TableStore<Row> } => {
  const key = `table:${table}:${JSON.stringify(options.filters ?? {}, Object.keys(options.filters ?? {}).sort())}`
  return { key, store: client.store(key, () => new TableStore<Row>(client, table, options)) }
}
