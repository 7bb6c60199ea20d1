/**
 * Seed 003 (the realtime database document), transcribed: its declarations and its token route,
 * changing only the imports and the router (`backend()`/`app.post` → a fetch handler wrapped by
 * `database.worker(...)`; `app.use(database)` → that wrapper serving the change-stream route).
 *
 * One adaptation: the document declares `posts` and `announcements` in two `db({ name: "main" })`
 * examples; one Worker can hold one database named `main`, so both tables are declared together.
 * The `posts: true` example is checked on its own with `resolveDeclaration` in the test.
 */
import { db, table, text } from "../src/db/index.js"

export const database = db({
  name: "main",
  schema: {
    posts: table({
      id: text().primaryKey(),
      tenantId: text().notNull().index(),
      title: text().notNull(),
    }),
    announcements: table({
      id: text().primaryKey(),
      title: text().notNull(),
    }),
  },
  realtime: {
    tables: {
      posts: {
        events: ["insert", "update", "delete"],
        filters: ["tenantId"],
        requiredFilters: ["tenantId"],
      },
      announcements: {
        access: "public",
      },
    },
  },
})

/** The application's own authentication (the document leaves it to the app): a test session header. */
const requireAuth = async (request: Request) => {
  const [userId, tenantId] = (request.headers.get("x-test-session") ?? "").split("@")
  if (!userId || !tenantId) throw new Response("unauthorized", { status: 401 })
  return { userId, tenantId }
}

/** The router: the document's `app.post("/realtime/posts/token", ...)`, as written. */
export const seed003 = database.worker({
  async fetch(request) {
    const url = new URL(request.url)
    try {
      if (request.method === "POST" && url.pathname === "/realtime/posts/token") {
        const auth = await requireAuth(request)
        return Response.json(
          await database.realtime.authorize({
            table: "posts",
            filters: {
              tenantId: auth.tenantId,
            },
            events: ["insert", "update"],
            ttlSeconds: 300,
            actor: {
              kind: "user",
              id: auth.userId,
              tenantId: auth.tenantId,
            },
          }),
        )
      }
      return new Response("not found", { status: 404 })
    } catch (error) {
      if (error instanceof Response) return error
      throw error
    }
  },
})
