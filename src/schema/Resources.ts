/**
 * The directory's listing of an instance's resources, as the inspector and the Worker read it:
 * the query and the page the directory's `list` operation (`actors/Ops.ts`) declares.
 * @since 0.1.0
 */
import { Schema } from "effect"

/** `tableHub` entries live in a database's own directory (see `db/hub/TableHub.ts`), not an instance's. */
export const ResourceKind = Schema.Literal("room", "channel", "crdtRoom", "tableHub")
export type ResourceKind = typeof ResourceKind.Type

export const MAX_RESOURCE_PAGE = 100

export const ResourceListQuery = Schema.Struct({
  kind: Schema.optional(ResourceKind),
  /** Only resources with an open connection (rooms someone is in). */
  connectedOnly: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  /** Destroyed resources stay listed (with `destroyed: true`) only when asked. */
  includeDestroyed: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  limit: Schema.optionalWith(Schema.Number.pipe(Schema.int(), Schema.between(1, MAX_RESOURCE_PAGE)), { default: () => 50 }),
  /** `nextCursor` of the previous page. */
  cursor: Schema.optional(Schema.NullOr(Schema.String.pipe(Schema.maxLength(400)))),
})
export type ResourceListQuery = typeof ResourceListQuery.Encoded

export const ResourceSummary = Schema.Struct({
  kind: ResourceKind,
  id: Schema.String,
  messages: Schema.Number,
  members: Schema.Number,
  connections: Schema.Number,
  destroyed: Schema.Boolean,
})
export type ResourceSummary = typeof ResourceSummary.Type

export const ResourcePage = Schema.Struct({
  resources: Schema.Array(ResourceSummary),
  nextCursor: Schema.NullOr(Schema.String),
})
export type ResourcePage = typeof ResourcePage.Type
