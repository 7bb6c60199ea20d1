/**
 * Durable Object ids and stubs, reused per object name instead of made again for every call.
 *
 * - **Ids.** `idFromName` hashes the name on each call (about 2 % of a database write's isolate
 *   time in the db benchmark's profile). An id is a plain value, valid in any request, so ids are
 *   remembered per namespace for every caller, at most `ID_CACHE_SIZE` names per namespace (the
 *   oldest leaves first: a hit costs one Map lookup, and a hot name that left is hashed once more).
 * - **Stubs.** A stub belongs to the I/O context that made it: one Worker request's, or a Durable
 *   Object's own, which lasts as long as the object. So stubs are remembered only in a `StubCache`
 *   that an object owns (a shard reaching its hubs, an actor its directory), or that one Worker
 *   request owns (`requestStubs`: keyed by its `Request`, gone with it), never module-wide.
 *   A stub whose call threw is broken for every later call (the runtime's documented behaviour):
 *   the caller `forget`s it and the next call makes a new one.
 *
 * @since 0.1.0
 */

/** What this module needs of a Durable Object namespace binding. */
export interface ObjectNamespace {
  idFromName(name: string): DurableObjectId
  get(id: DurableObjectId): unknown
}

/** Names whose ids one namespace remembers. */
export const ID_CACHE_SIZE = 1_000
/** Stubs one `StubCache` keeps. */
export const STUB_CACHE_SIZE = 256

/** A Map used as a bounded cache: past `limit` entries the oldest leaves. */
const remember = <K, V>(map: Map<K, V>, key: K, value: V, limit: number) => {
  map.set(key, value)
  if (map.size > limit) map.delete(map.keys().next().value as K)
}

const idsByNamespace = new WeakMap<ObjectNamespace, Map<string, DurableObjectId>>()

/** The id of the object `name` in `namespace`, hashed once per name. */
export const objectIdOf = (namespace: ObjectNamespace, name: string): DurableObjectId => {
  let ids = idsByNamespace.get(namespace)
  if (ids === undefined) {
    ids = new Map()
    idsByNamespace.set(namespace, ids)
  }
  const known = ids.get(name)
  if (known !== undefined) return known
  const id = namespace.idFromName(name)
  remember(ids, name, id, ID_CACHE_SIZE)
  return id
}

/** Stubs kept by one Durable Object for the objects it calls. */
export interface StubCache {
  /** The stub of `name` in `namespace`: the one made before, unless it was forgotten. */
  readonly stubOf: (namespace: ObjectNamespace, name: string) => unknown
  /** Drop a stub after a call through it threw: the next call makes a new one. */
  readonly forget: (namespace: ObjectNamespace, name: string) => void
  /** Stubs held now. */
  readonly size: () => number
}

/** A stub cache for one Durable Object (made once per object, used only inside it). */
export const makeStubCache = (limit = STUB_CACHE_SIZE): StubCache => {
  const stubs = new Map<string, { readonly namespace: ObjectNamespace; readonly stub: unknown }>()
  // Names are unique per namespace only; the namespace is compared on the entry.
  return {
    stubOf: (namespace, name) => {
      const entry = stubs.get(name)
      if (entry !== undefined && entry.namespace === namespace) return entry.stub
      const stub = namespace.get(objectIdOf(namespace, name))
      remember(stubs, name, { namespace, stub }, limit)
      return stub
    },
    forget: (namespace, name) => {
      if (stubs.get(name)?.namespace === namespace) stubs.delete(name)
    },
    size: () => stubs.size,
  }
}

const byRequest = new WeakMap<Request, StubCache>()

/**
 * The stub cache of one Worker request (its I/O context), made on its first use: a request that
 * writes many rows reaches its shard through one stub instead of one per call. `undefined`
 * outside a known request: then every call makes its stub.
 */
export const requestStubs = (request: Request | undefined): StubCache | undefined => {
  if (request === undefined) return undefined
  let stubs = byRequest.get(request)
  if (stubs === undefined) {
    stubs = makeStubCache()
    byRequest.set(request, stubs)
  }
  return stubs
}
