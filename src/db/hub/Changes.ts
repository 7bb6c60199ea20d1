/**
 * What one subscriber receives for one change.
 *
 * Filters are equality on columns, checked against the old image (what the subscriber could see
 * before) and the new image (what it may see after): an insert needs the new image to match, a
 * delete the old one, an update both; an update whose old image matched but new one does not is
 * delivered as a `delete` of the old image (`scope: "left"`), never with the new row; one whose new
 * image matches but old one did not is delivered as an `insert` (`scope: "entered"`). The event
 * restriction applies to the delivered event, and a change already contained in the subscriber's
 * snapshot (outbox id at or below its snapshot watermark for that shard) is skipped.
 *
 * @since 0.1.0
 */
import type { ChangeEvent, DatabaseDefinition } from "../Declaration.js"
import { matches, shardName } from "../Placement.js"
import type { DatabaseChangeFrame, Filters, ResyncFrame, ShardChange } from "../Protocol.js"
import { encodeDbFrame } from "./HubSockets.js"
import { isoTime } from "../../internal/IsoTime.js"

export interface Subscriber {
  readonly filters: Filters
  readonly events: ReadonlyArray<ChangeEvent>
  /** Per shard: the outbox id its snapshot already reflects. */
  readonly watermarks?: Readonly<Record<string, number>>
  /** Its partition, when its object hosts several (a shard's own streams). */
  readonly hub?: string
}

type Delivery = { readonly event: ChangeEvent; readonly scope?: "entered" | "left" }

/** Whether the subscriber's snapshot already reflects this change. */
const inSnapshot = (change: ShardChange, subscriber: Subscriber) => {
  const watermark = subscriber.watermarks?.[String(change.shard)]
  return watermark !== undefined && change.outboxId <= watermark
}

// The five deliveries there are, shared: a change fanned out to many subscribers allocates none, and
// `frameCache` tells them apart by identity.
const INSERT: Delivery = { event: "insert" }
const UPDATE: Delivery = { event: "update" }
const DELETE: Delivery = { event: "delete" }
const LEFT: Delivery = { event: "delete", scope: "left" }
const ENTERED: Delivery = { event: "insert", scope: "entered" }

export const deliveryFor = (change: ShardChange, subscriber: Subscriber): Delivery | undefined => {
  if (change.parked === true || inSnapshot(change, subscriber)) return undefined
  const before = matches(change.old, subscriber.filters)
  const after = matches(change.new, subscriber.filters)
  let delivery: Delivery | undefined
  switch (change.event) {
    case "insert":
      delivery = after ? INSERT : undefined
      break
    case "delete":
      delivery = before ? DELETE : undefined
      break
    case "update":
      delivery = before && after ? UPDATE : before ? LEFT : after ? ENTERED : undefined
      break
  }
  return delivery !== undefined && subscriber.events.includes(delivery.event) ? delivery : undefined
}

export const changeFrame = (definition: DatabaseDefinition, change: ShardChange, seq: number, delivery: Delivery): DatabaseChangeFrame => {
  const table = definition.tables.get(change.table)
  const keyColumn = table?.realtime?.key ?? table?.primaryKey ?? "id"
  const old = delivery.event === "insert" ? null : change.old
  const next = delivery.event === "delete" ? null : change.new
  // An object of the key columns, as the product document writes it: `{ "id": "post_1" }`. (Assigned,
  // not a computed key in the literal, which V8 defines through a runtime call; names are identifiers.)
  const key: Record<string, unknown> = {}
  key[keyColumn] = (delivery.event === "delete" ? old : next)?.[keyColumn] ?? null
  const frame: { -readonly [K in keyof DatabaseChangeFrame]: DatabaseChangeFrame[K] } = {
    type: "database.change",
    seq,
    namespace: definition.namespace,
    database: definition.name,
    table: change.table,
    event: delivery.event,
    key,
    old,
    new: next,
    shard: shardName(change.shard),
    requestId: change.requestId,
    createdAt: isoTime(change.createdAt),
  }
  if (delivery.scope !== undefined) frame.scope = delivery.scope
  return frame
}

/**
 * The `resync` frame of a parked change (its images never reached the hub, so whether it matched
 * a subscriber's filters is unknown: every subscriber of the partition is told, except one whose
 * snapshot already reflects it).
 */
export const gapFrameFor = (change: ShardChange, seq: number, subscriber: Subscriber): string | undefined =>
  change.parked !== true || inSnapshot(change, subscriber)
    ? undefined
    : encodeDbFrame({
        type: "resync",
        reason: "gap",
        seq,
        message: `a ${change.table} change (${shardName(change.shard)}, outbox ${change.outboxId}) could not be delivered; take a new snapshot`,
      } satisfies typeof ResyncFrame.Type)

/**
 * Encodes each distinct delivery of one change once, however many subscribers get it.
 */
export const frameCache = (definition: DatabaseDefinition, change: ShardChange, seq: number) => {
  // Mostly one delivery per change (every subscriber sees the insert): the first is kept without a Map.
  let first: Delivery | undefined
  let firstFrame = ""
  let others: Map<string, string> | undefined
  return (delivery: Delivery): string => {
    if (delivery === first) return firstFrame
    if (first === undefined) {
      first = delivery
      return (firstFrame = encodeDbFrame(changeFrame(definition, change, seq, delivery)))
    }
    const id = `${delivery.event}:${delivery.scope ?? ""}`
    if (id === `${first.event}:${first.scope ?? ""}`) return firstFrame
    others ??= new Map()
    let frame = others.get(id)
    if (frame === undefined) {
      frame = encodeDbFrame(changeFrame(definition, change, seq, delivery))
      others.set(id, frame)
    }
    return frame
  }
}
