/**
 * The inspector page: the instance live (rooms, channels and documents with connection and
 * member counts; a resource's members, presence, last messages and document stats; database
 * shards with their outbox backlog, every table hub (partitioned tables: one per tenant) with its
 * filters and subscribers, and a hub's position), with a destroy button. It reads the
 * JSON routes of `inspectorHandler`, which the example mounts at /admin/realtime behind its own check.
 */
import { useCallback, useEffect, useState } from "react"
import { mount, Page } from "./react-ui.js"
import { api } from "./ui.js"

// The shapes of the inspector's JSON (src/inspect/Inspector.ts), written out so this browser page
// does not pull the server's modules into its type check.
type Actor = { type: string; id: string; name?: string }
type Message = { seq: number; type: string; data: unknown; actor: Actor }
type Member = { id: string; actor: Actor; presence: Record<string, unknown>; connections: number }
type RoomState = { status: string; connections: number }
type ResourceSummary = { kind: "room" | "channel" | "crdtRoom"; id: string; messages: number; members: number; connections: number; destroyed: boolean }
type ResourcePage = { resources: ReadonlyArray<ResourceSummary>; nextCursor: string | null }
type InstanceStats = { rooms: number; channels: number; members: number; connections: number; messages: number }
type RoomDetails = { kind: "room"; state: RoomState; members: ReadonlyArray<Member>; lastMessages: ReadonlyArray<Message> }
type ChannelDetails = { kind: "channel"; stats: { subscribers: number; messages: number }; lastMessages: ReadonlyArray<Message> }
type DocumentDetails = { kind: "crdtRoom"; state: RoomState; members: ReadonlyArray<Member>; document: { storedBytes: number; logUpdates: number; awarenessClients: number }; lastMessages: ReadonlyArray<Message> }
type HubState = { table: string; hub: string; seq: number; connections: number }
type HubSummary = { table: string; filters: Record<string, unknown> | null; hub: string; subscribers: number; buffered: number; shard: number | null; shardPending: number | null }
type HubPage = { hubs: ReadonlyArray<HubSummary>; nextCursor: string | null }
type DatabaseOverview = { name: string; shards: ReadonlyArray<{ shard: number; pending: number; oldestPendingAt: number | null }>; tables: ReadonlyArray<{ name: string }>; hubs: ReadonlyArray<HubState> }

const API = "/admin/realtime"
const PATHS = { room: "rooms", channel: "channels", crdtRoom: "documents" } as const
type Details = RoomDetails | ChannelDetails | DocumentDetails

/** Poll a JSON route every `ms` while mounted. */
const usePolled = <A,>(path: string | undefined, ms: number): { data: A | undefined; error: unknown; refresh: () => void } => {
  const [data, setData] = useState<A | undefined>(undefined)
  const [error, setError] = useState<unknown>(undefined)
  const [tick, setTick] = useState(0)
  useEffect(() => {
    if (path === undefined) return setData(undefined)
    let live = true
    const load = () => api<A>(path).then((value) => live && (setData(value), setError(undefined)), (cause) => live && setError(cause))
    void load()
    const timer = setInterval(load, ms)
    return () => {
      live = false
      clearInterval(timer)
    }
  }, [path, ms, tick])
  return { data, error, refresh: useCallback(() => setTick((n) => n + 1), []) }
}

const Resource = ({ resource, onClose, onDestroyed }: { resource: ResourceSummary; onClose: () => void; onDestroyed: () => void }) => {
  const path = `${API}/${PATHS[resource.kind]}/${encodeURIComponent(resource.id)}`
  const { data, error } = usePolled<Details>(path, 1000)
  const [failure, setFailure] = useState<unknown>(undefined)
  const destroy = () => api(`${path}/destroy`, { method: "POST", body: JSON.stringify({ deleteHistory: false }) }).then(onDestroyed, setFailure)
  const members = data !== undefined && "members" in data ? data.members : []
  return (
    <section id="details" data-kind={resource.kind} data-id={resource.id}>
      <h2>
        {resource.kind} <code>{resource.id}</code> <button onClick={onClose}>Close</button> <button id="destroy" className="danger" onClick={() => void destroy()}>Destroy</button>
      </h2>
      {(failure ?? error) ? <p className="muted">{String((failure as { message?: string })?.message ?? (error as { message?: string })?.message)}</p> : null}
      {data?.kind === "crdtRoom" ? (
        <p id="doc-stats">
          stored <b data-stat="storedBytes">{data.document.storedBytes}</b> bytes · log <b data-stat="logUpdates">{data.document.logUpdates}</b> updates · awareness clients <b data-stat="awarenessClients">{data.document.awarenessClients}</b>
        </p>
      ) : null}
      {data?.kind === "channel" ? <p>subscribers {data.stats.subscribers} · messages {data.stats.messages}</p> : null}
      {data?.kind === "room" || data?.kind === "crdtRoom" ? <p>status {data.state.status} · connections {data.state.connections}</p> : null}
      <h3>Members ({members.length})</h3>
      <ul id="detail-members">
        {members.map((member) => (
          <li key={member.id} data-member={member.actor.name ?? member.actor.id}>
            <b>{member.actor.name ?? member.actor.id}</b> · {member.connections} connection(s) · <code>{JSON.stringify(member.presence)}</code>
          </li>
        ))}
      </ul>
      <h3>Last messages</h3>
      <ul id="detail-messages">
        {(data?.lastMessages ?? []).map((message) => (
          <li key={message.seq}>
            #{message.seq} <b>{message.actor.name ?? message.actor.id}</b> {message.type} <code>{JSON.stringify(message.data)}</code>
          </li>
        ))}
      </ul>
    </section>
  )
}

/** A database's hubs from its directory, a page at a time (`GET .../databases/{name}/hubs`). */
const HubList = ({ database }: { database: string }) => {
  const [cursors, setCursors] = useState<ReadonlyArray<string>>([])
  const cursor = cursors[cursors.length - 1]
  const { data } = usePolled<HubPage>(`${API}/databases/${encodeURIComponent(database)}/hubs?limit=20${cursor === undefined ? "" : `&cursor=${encodeURIComponent(cursor)}`}`, 2000)
  return (
    <div className="hub-list" data-hubs={database}>
      <table>
        <thead>
          <tr><th>table</th><th>partition</th><th>subscribers</th><th>buffered changes</th><th>shard backlog</th></tr>
        </thead>
        <tbody>
          {(data?.hubs ?? []).map((hub) => (
            <tr key={hub.hub} data-hub-id={hub.hub} data-table={hub.table}>
              <td>{hub.table}</td>
              <td><code>{hub.filters === null ? hub.hub : JSON.stringify(hub.filters)}</code></td>
              <td data-stat="subscribers">{hub.subscribers}</td>
              <td data-stat="buffered">{hub.buffered}</td>
              <td data-stat="shardPending">{hub.shard === null ? "all shards" : `${hub.shardPending ?? "?"} (shard ${hub.shard})`}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p className="toolbar">
        <button disabled={cursors.length === 0} onClick={() => setCursors(cursors.slice(0, -1))}>Previous hubs</button>
        <button disabled={data?.nextCursor == null} onClick={() => data?.nextCursor != null && setCursors([...cursors, data.nextCursor])}>Next hubs</button>
      </p>
    </div>
  )
}

const Databases = () => {
  const { data } = usePolled<ReadonlyArray<DatabaseOverview>>(`${API}/databases`, 2000)
  const [filters, setFilters] = useState('{"tenantId":"acme"}')
  const [hub, setHub] = useState<HubState | { error: string } | undefined>(undefined)
  const lookUp = (database: string, table: string) =>
    api<HubState>(`${API}/databases/${encodeURIComponent(database)}/hubs/${encodeURIComponent(table)}?filters=${encodeURIComponent(filters)}`).then(setHub, (cause) => setHub({ error: String(cause?.message ?? cause) }))
  return (
    <section id="databases">
      <h2>Databases</h2>
      {(data ?? []).map((database) => (
        <div key={database.name} data-database={database.name}>
          <h3>{database.name}</h3>
          <table>
            <thead>
              <tr><th>shard</th><th>outbox backlog</th><th>oldest pending</th></tr>
            </thead>
            <tbody>
              {database.shards.map((shard) => (
                <tr key={shard.shard} data-shard={shard.shard}>
                  <td>{shard.shard}</td>
                  <td data-stat="pending">{shard.pending}</td>
                  <td>{shard.oldestPendingAt === null ? "—" : new Date(shard.oldestPendingAt).toLocaleTimeString()}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {database.hubs.length === 0 ? null : (
            <table>
              <thead>
                <tr><th>hub</th><th>seq</th><th>subscribers</th></tr>
              </thead>
              <tbody>
                {database.hubs.map((hub) => (
                  <tr key={hub.hub} data-hub={hub.table}>
                    <td><code>{hub.hub}</code></td>
                    <td>{hub.seq}</td>
                    <td>{hub.connections}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          <HubList database={database.name} />
          <p className="toolbar">
            Hub of <input id="hub-filters" value={filters} onChange={(event) => setFilters(event.target.value)} aria-label="Hub filters" />
            {database.tables.map((table) => (
              <button key={table.name} onClick={() => void lookUp(database.name, table.name)}>
                {table.name}
              </button>
            ))}
          </p>
        </div>
      ))}
      {hub === undefined ? null : <pre id="hub">{JSON.stringify(hub, null, 2)}</pre>}
    </section>
  )
}

const Inspector = () => {
  const [connectedOnly, setConnectedOnly] = useState(true)
  const [selected, setSelected] = useState<ResourceSummary | undefined>(undefined)
  const stats = usePolled<InstanceStats>(`${API}/stats`, 1000)
  const list = usePolled<ResourcePage>(`${API}/resources?limit=100${connectedOnly ? "&connectedOnly=true" : ""}`, 1000)
  return (
    <Page status={list.error === undefined ? "live" : "reconnecting"} error={list.error}>
      <h1>Inspector</h1>
      <p id="stats">
        {stats.data === undefined ? "…" : `${stats.data.rooms} rooms · ${stats.data.channels} channels · ${stats.data.members} members · ${stats.data.connections} connections · ${stats.data.messages} messages`}
      </p>
      <label>
        <input id="connected-only" type="checkbox" checked={connectedOnly} onChange={(event) => setConnectedOnly(event.target.checked)} /> only resources with connections
      </label>
      <table id="resources">
        <thead>
          <tr><th>kind</th><th>id</th><th>connections</th><th>members</th><th>messages</th></tr>
        </thead>
        <tbody>
          {(list.data?.resources ?? []).map((resource) => (
            <tr key={`${resource.kind}:${resource.id}`} data-kind={resource.kind} data-id={resource.id} onClick={() => setSelected(resource)}>
              <td>{resource.kind}</td>
              <td><a href="#details">{resource.id}</a></td>
              <td data-stat="connections">{resource.connections}</td>
              <td data-stat="members">{resource.members}</td>
              <td data-stat="messages">{resource.messages}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {selected === undefined ? null : (
        <Resource
          key={`${selected.kind}:${selected.id}`}
          resource={selected}
          onClose={() => setSelected(undefined)}
          onDestroyed={() => {
            setSelected(undefined)
            list.refresh()
          }}
        />
      )}
      <Databases />
    </Page>
  )
}

void mount(<Inspector />)
