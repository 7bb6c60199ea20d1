/**
 * The database feed on `useTable`: one tenant's posts, kept current by the table's change stream
 * (snapshot first, then every insert, update and delete; resumed after drops).
 */
import { useState, type FormEvent } from "react"
import { useTable } from "../../src/react/index.js"
import { mount, Page, param } from "./react-ui.js"
import { api } from "./ui.js"

type Post = { id: string; tenantId: string; title: string; published: boolean }

const Feed = ({ tenantId }: { tenantId: string }) => {
  const { rows, status, error } = useTable<Post>("posts", { filters: { tenantId } })
  const [title, setTitle] = useState("")
  const [failure, setFailure] = useState<unknown>(undefined)
  const run = (request: Promise<unknown>) => request.then(() => setFailure(undefined), setFailure)
  const where = (post: Post) => `/db/posts/${encodeURIComponent(post.id)}?tenantId=${encodeURIComponent(tenantId)}`

  const add = (event: FormEvent) => {
    event.preventDefault()
    if (title.trim() === "") return
    void run(api("/db/posts", { method: "POST", body: JSON.stringify({ id: crypto.randomUUID().slice(0, 8), tenantId, title: title.trim() }) }).then(() => setTitle("")))
  }

  return (
    <Page status={status} error={failure ?? error}>
      <h1>
        Posts of <span id="tenant-name">{tenantId}</span> (<span id="count">{rows.length}</span>)
      </h1>
      <form id="new-post" className="toolbar" onSubmit={add}>
        <input id="title" placeholder="A new post" aria-label="Title" value={title} onChange={(event) => setTitle(event.target.value)} /> <button>Add post</button>
      </form>
      <ul id="posts">
        {rows.map((post) => (
          <li key={post.id} data-id={post.id}>
            <span className="title">{post.title}</span>{" "}
            <button className="rename" onClick={() => void run(api(where(post), { method: "PATCH", body: JSON.stringify({ title: `${post.title} (edited)` }) }))}>
              Rename
            </button>{" "}
            <button className="remove" onClick={() => void run(api(where(post), { method: "DELETE" }))}>
              Delete
            </button>
          </li>
        ))}
      </ul>
    </Page>
  )
}

void mount(<Feed tenantId={param("tenant", "acme")} />)
