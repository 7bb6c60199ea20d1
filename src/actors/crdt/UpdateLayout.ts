/**
 * Where a Yjs (V1) update's structs lie, per client (first and next clock), and where its delete
 * set starts: what `inspectUpdate` checks an arriving update against, and what `RunMerge` joins.
 *
 * `Y.parseUpdateMeta` finds it by building every struct (an Item and its content object, each
 * string decoded) and cost about as much as applying the update in its run; one keystroke's
 * update is one client's run of text. `scanPlainUpdate` reads such an update's bytes without
 * building anything, for the shapes it knows exactly: one client, structs that are skips,
 * garbage-collected runs, deleted content or ASCII strings (an ASCII string's length in UTF-16
 * units, the clock it takes, is its byte count; a type name or map key must be ASCII too). Anything else (several clients, other content,
 * a non-ASCII string, bytes that do not read) answers `undefined`, and `readLayout` asks Yjs.
 * Both give the same layout for what the scan accepts (test/crdt-update-layout.test.ts).
 *
 * @since 0.2.0
 */
import * as decoding from "lib0/decoding"
import * as Y from "yjs"

/** Per client, the clock of its first struct (`from`) and the clock after its last (`to`), and the delete set's offset. */
export interface UpdateLayout {
  readonly from: ReadonlyMap<number, number>
  readonly to: ReadonlyMap<number, number>
  readonly deleteSetAt: number
}

// V1 struct info byte: content ref in the low 5 bits; origin, right origin, parent sub flags above.
const CONTENT_REF = 31
const HAS_ORIGIN = 128
const HAS_RIGHT_ORIGIN = 64
const HAS_PARENT_SUB = 32
const SKIP = 10
const CONTENT_DELETED = 1
const CONTENT_STRING = 4

/** The clock an ASCII string takes (its byte count), or -1 when it has other bytes. */
const asciiLength = (decoder: decoding.Decoder): number => {
  const length = decoding.readVarUint(decoder)
  const end = decoder.pos + length
  if (end > decoder.arr.length) throw new RangeError("string past the end")
  for (let index = decoder.pos; index < end; index++) if (decoder.arr[index]! >= 0x80) return -1
  decoder.pos = end
  return length
}

/** The layout of a plain update (see above), or `undefined` for Yjs to read. Never throws. */
export const scanPlainUpdate = (update: Uint8Array): UpdateLayout | undefined => {
  try {
    const decoder = decoding.createDecoder(update)
    const clients = decoding.readVarUint(decoder)
    if (clients === 0) return { from: new Map(), to: new Map(), deleteSetAt: decoder.pos }
    if (clients !== 1) return undefined
    const structs = decoding.readVarUint(decoder)
    const client = decoding.readVarUint(decoder)
    const first = decoding.readVarUint(decoder)
    if (structs === 0) return undefined
    let clock = first
    for (let index = 0; index < structs; index++) {
      if (decoder.pos >= update.length) return undefined
      const info = decoding.readUint8(decoder)
      if (info === SKIP || (info & CONTENT_REF) === 0) {
        // A skip or a garbage-collected run: its length.
        clock += decoding.readVarUint(decoder)
        continue
      }
      if ((info & HAS_ORIGIN) !== 0) {
        decoding.readVarUint(decoder)
        decoding.readVarUint(decoder)
      }
      if ((info & HAS_RIGHT_ORIGIN) !== 0) {
        decoding.readVarUint(decoder)
        decoding.readVarUint(decoder)
      }
      if ((info & (HAS_ORIGIN | HAS_RIGHT_ORIGIN)) === 0) {
        // The parent: a root type's name, or an item's id; then the map key, if any. Names are
        // ASCII here too: Yjs decodes them strictly (bad UTF-8 refuses the update), the scan does not.
        if (decoding.readVarUint(decoder) === 1) {
          if (asciiLength(decoder) < 0) return undefined
        } else {
          decoding.readVarUint(decoder)
          decoding.readVarUint(decoder)
        }
        if ((info & HAS_PARENT_SUB) !== 0 && asciiLength(decoder) < 0) return undefined
      }
      const ref = info & CONTENT_REF
      if (ref === CONTENT_DELETED) clock += decoding.readVarUint(decoder)
      else if (ref === CONTENT_STRING) {
        const length = asciiLength(decoder)
        if (length < 0) return undefined
        clock += length
      } else return undefined
    }
    return { from: new Map([[client, first]]), to: new Map([[client, clock]]), deleteSetAt: decoder.pos }
  } catch {
    return undefined
  }
}

/**
 * The decoder `Y.parseUpdateMetaV2` builds, caught as it is made: once every struct is read, its
 * position is where the update's delete set starts (the parse reads nothing after the structs).
 */
let lastDecoder: Y.UpdateDecoderV1 | undefined
class PositionedDecoder extends Y.UpdateDecoderV1 {
  constructor(decoder: decoding.Decoder) {
    super(decoder)
    lastDecoder = this
  }
}

/** Where the last `PositionedDecoder` stands (-1 if none was made); forgets it (and the bytes it reads). */
const decoderPosition = (): number => {
  const position = lastDecoder?.restDecoder.pos ?? -1
  lastDecoder = undefined
  return position
}

/** The layout as Yjs's own parse finds it. Throws what Yjs throws on bytes that are not an update. */
export const parseLayout = (update: Uint8Array): UpdateLayout => {
  lastDecoder = undefined
  const meta = Y.parseUpdateMetaV2(update, PositionedDecoder)
  return { from: meta.from, to: meta.to, deleteSetAt: decoderPosition() }
}

/** The layout of any update: the plain scan, else Yjs's own parse (which throws on bytes that are not an update). */
export const readLayout = (update: Uint8Array): UpdateLayout => scanPlainUpdate(update) ?? parseLayout(update)
