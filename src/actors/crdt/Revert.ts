/**
 * The forward update that takes a document back to a snapshot's content.
 *
 * Replacing the document would fork every connected replica (their history no longer matches
 * the server's). Instead, on a copy of the current document, each root type's content is
 * replaced by the snapshot's, and the difference is encoded as an ordinary update: applied like
 * any edit, it brings every replica, connected or not, to the snapshot's content.
 *
 * The server never learns which type a client gave each root name, so the kind is read from the
 * stored content: map entries, text runs, XML elements, or array items.
 *
 * @since 0.1.0
 */
import * as Y from "yjs"

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyType = Y.AbstractType<any>

type RootKind = "map" | "text" | "xml" | "array" | "empty"

const kindOf = (type: AnyType): RootKind => {
  if (type instanceof Y.Text) return "text"
  if (type instanceof Y.XmlFragment) return "xml"
  if (type instanceof Y.Map) return "map"
  if (type instanceof Y.Array) return "array"
  let item = type._start
  while (item !== null) {
    const content = item.content
    if (content instanceof Y.ContentString || content instanceof Y.ContentFormat || content instanceof Y.ContentEmbed) return "text"
    if (content instanceof Y.ContentType && (content.type instanceof Y.XmlElement || content.type instanceof Y.XmlText)) return "xml"
    if (!item.deleted) return "array"
    item = item.right
  }
  if (type._map.size > 0) return "map"
  return "empty"
}

/** The root type `name` of `doc`, typed as `kind`. */
const rootAs = (doc: Y.Doc, name: string, kind: Exclude<RootKind, "empty">): AnyType => {
  switch (kind) {
    case "map":
      return doc.getMap(name)
    case "text":
      return doc.getText(name)
    case "xml":
      return doc.getXmlFragment(name)
    case "array":
      return doc.getArray(name)
  }
}

/** Copies of nested shared types, so they can be inserted into another document. */
const copy = (value: unknown): unknown => (value instanceof Y.AbstractType ? value.clone() : value)

const sameValue = (left: unknown, right: unknown) =>
  !(left instanceof Y.AbstractType) && !(right instanceof Y.AbstractType) && JSON.stringify(left) === JSON.stringify(right)

const replaceContent = (target: AnyType, source: AnyType | undefined) => {
  if (target instanceof Y.Text) {
    const delta = source instanceof Y.Text ? source.toDelta() : []
    target.delete(0, target.length)
    target.applyDelta(delta.map((op: { insert: unknown; attributes?: object }) => ({ ...op, insert: copy(op.insert) })))
  } else if (target instanceof Y.XmlFragment) {
    target.delete(0, target.length)
    if (source instanceof Y.XmlFragment) target.insert(0, source.toArray().map((child) => child.clone() as Y.XmlElement | Y.XmlText))
  } else if (target instanceof Y.Array) {
    target.delete(0, target.length)
    if (source instanceof Y.Array) target.insert(0, source.toArray().map(copy))
  } else if (target instanceof Y.Map) {
    const wanted = source instanceof Y.Map ? source : undefined
    for (const key of [...target.keys()]) if (wanted === undefined || !wanted.has(key)) target.delete(key)
    wanted?.forEach((value, key) => {
      if (!target.has(key) || !sameValue(target.get(key), value)) target.set(key, copy(value))
    })
  }
}

/**
 * An update that, applied to `current`, makes its content equal to the content of `target`
 * (a document state from `Y.encodeStateAsUpdate`). Empty when they already match.
 */
export const revertUpdate = (current: Y.Doc, target: Uint8Array): Uint8Array => {
  const snapshot = new Y.Doc()
  Y.applyUpdate(snapshot, target)
  const working = new Y.Doc()
  Y.applyUpdate(working, Y.encodeStateAsUpdate(current))
  const names = new Set([...working.share.keys(), ...snapshot.share.keys()])
  working.transact(() => {
    for (const name of names) {
      const source = snapshot.share.get(name)
      const existing = working.share.get(name)
      const sourceKind = source === undefined ? "empty" : kindOf(source)
      const kind = sourceKind !== "empty" ? sourceKind : existing === undefined ? "empty" : kindOf(existing)
      if (kind === "empty") continue
      const typedSource = source === undefined || sourceKind === "empty" ? undefined : rootAs(snapshot, name, sourceKind)
      replaceContent(rootAs(working, name, kind), typedSource)
    }
  })
  const update = Y.encodeStateAsUpdate(working, Y.encodeStateVector(current))
  snapshot.destroy()
  working.destroy()
  return update
}
