// When has every viewer got an edit? Each edit is identified the way Yjs identifies it: an insert
// by (client, clock it brings that client to), a deletion by the id of the item it deletes. A
// viewer's transaction reports both (state vector after, delete set), so no marker travels in the
// update bytes and the same check works for every server, forwarding or re-encoding.
import { latencyHistogram } from "../../harness/stats.mjs"

export const makeDeliveryTracker = (viewerCount) => {
  const latency = latencyHistogram()
  const insertsByClient = new Map() // client -> [{ endClock, edit }] in clock order
  // "client:clock" -> edits: two editors may delete the same item when one had not yet seen the
  // other's deletion; a viewer sees that item deleted once, and that delivers both.
  const deletes = new Map()
  let registered = 0
  let completed = 0

  const reached = (edit, now) => {
    edit.remaining--
    if (edit.remaining === 0) {
      completed++
      latency.record(now - edit.scheduledAt)
    }
  }

  /** Follow an editor's doc: each local transaction is one edit scheduled at `scheduledAt()`. */
  const followEditor = (doc, scheduledAt) => {
    doc.on("afterTransaction", (transaction) => {
      if (!transaction.local) return
      const edit = { scheduledAt: scheduledAt(), remaining: viewerCount }
      const own = doc.clientID
      const after = transaction.afterState.get(own) ?? 0
      if (after > (transaction.beforeState.get(own) ?? 0)) {
        if (!insertsByClient.has(own)) insertsByClient.set(own, [])
        insertsByClient.get(own).push({ endClock: after, edit })
        registered++
        return
      }
      for (const [client, items] of transaction.deleteSet.clients) {
        if (items.length === 0) continue
        const key = `${client}:${items[0].clock}`
        if (!deletes.has(key)) deletes.set(key, [])
        deletes.get(key).push(edit)
        registered++
        return
      }
      // Nothing changed (a deletion another editor already made): no update was sent.
    })
  }

  /** Follow a viewer's doc: mark the edits each of its transactions brought. */
  const followViewer = (doc) => {
    const cursors = new Map()
    doc.on("afterTransaction", (transaction) => {
      const now = performance.now()
      for (const [client, clock] of transaction.afterState) {
        if ((transaction.beforeState.get(client) ?? 0) >= clock) continue
        const list = insertsByClient.get(client)
        if (list === undefined) continue
        let index = cursors.get(client) ?? 0
        while (index < list.length && list[index].endClock <= clock) reached(list[index++].edit, now)
        cursors.set(client, index)
      }
      for (const [client, items] of transaction.deleteSet.clients) {
        for (const item of items) {
          for (let clock = item.clock; clock < item.clock + item.len; clock++) {
            for (const edit of deletes.get(`${client}:${clock}`) ?? []) reached(edit, now)
          }
        }
      }
    })
  }

  return {
    followEditor,
    followViewer,
    latency,
    get registered() {
      return registered
    },
    get completed() {
      return completed
    },
  }
}
