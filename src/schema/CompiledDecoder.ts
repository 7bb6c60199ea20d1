/**
 * A synchronous decoder compiled from a Schema's AST, for the frames every socket message carries
 * (`ClientFrame`): it gives exactly what `Schema.decodeUnknownEither(schema)` gives when that
 * succeeds, or `UNDECIDED`, and then the caller runs the Schema itself (which also words the
 * error). So the Schema stays the one definition of what is valid, and every refusal is still the
 * Schema's own; the compiled form only skips the generic parser's machinery for input it accepts
 * (issue 16: `decodeUnknownEither(ClientFrame)` took 17-42 µs per 64 B broadcast frame in Node 24
 * on the bench machine, the compiled form under 1 µs).
 *
 * Compiled, with the parser's semantics (effect/ParseResult, default options: excess properties
 * dropped, properties in the Schema's order): literals, string / number / boolean / unknown /
 * undefined keywords, refinements (string length and pattern rules from their annotations, others
 * through their own `filter` or a predicate the caller names for them),
 * declarations without type parameters (their own `decodeUnknown`, when it answers synchronously),
 * structs (with string-keyed index signatures: records), arrays and tuples (elements, optional
 * elements, one rest element), struct-to-struct transformations (`optionalWith` defaults: the
 * Schema's own property transformations), unions whose members are told apart by a required
 * literal property (a frame's `type`) or that are `X | undefined` (optional fields), and unions the
 * parser tries in order (`NullOr`), where a member is taken only when every member before it
 * refuses the input's very type. A `parseOptions` annotation is followed for `onExcessProperty:
 * "error" | "ignore"` (inherited by the nodes below it, as the parser passes options down); any
 * other parse option makes its node undecided. Any other node answers `UNDECIDED` for whatever
 * reaches it, so what this does not know is decided by the Schema. A record key `__proto__` is
 * always the Schema's (assigning it would set the output's prototype).
 *
 * @since 0.2.0
 */
import { Either, Option, Schema, SchemaAST } from "effect"

/** "Ask the Schema": the compiled decoder does not accept this input (it may still be valid, or not). */
export const UNDECIDED: unique symbol = Symbol("durable-realtime/UNDECIDED")
export type Undecided = typeof UNDECIDED

type Compiled = (input: unknown) => unknown

export interface CompileOptions {
  /**
   * Refinements whose filter is known as a plain predicate (the very one the filter runs, without
   * the parser's issue wrapping): the refinement's AST and the predicate.
   */
  readonly filters?: ReadonlyMap<SchemaAST.AST, (value: unknown) => boolean>
}

/** What a node is compiled with: the caller's options and the parse options inherited from above it. */
interface Context extends CompileOptions {
  /** `onExcessProperty: "error"` from a `parseOptions` annotation above: a struct with a key it does not declare is refused. */
  readonly excessError?: boolean
}

const undecided: Compiled = () => UNDECIDED

const isRecord = (input: unknown): input is Record<PropertyKey, unknown> => typeof input === "object" && input !== null && !Array.isArray(input)

/**
 * The filter of a refinement as a plain predicate: the string length and pattern filters from
 * their own annotations (the bound and the regex their predicate closes over), a filter the caller
 * names (`CompileOptions.filters`) with the predicate given, any other one through its own `filter`.
 */
const predicateOf = (ast: SchemaAST.Refinement, options: Context): ((value: unknown) => boolean) => {
  const named = options.filters?.get(ast)
  if (named !== undefined) return named
  const id = ast.annotations[SchemaAST.SchemaIdAnnotationId]
  const bounds = ast.annotations[SchemaAST.JSONSchemaAnnotationId] as
    | { readonly minLength?: unknown; readonly maxLength?: unknown; readonly minItems?: unknown; readonly maxItems?: unknown }
    | undefined
  if (id === Schema.MinItemsSchemaId && typeof bounds?.minItems === "number") {
    const min = bounds.minItems
    return (value) => Array.isArray(value) && value.length >= min
  }
  if (id === Schema.MaxItemsSchemaId && typeof bounds?.maxItems === "number") {
    const max = bounds.maxItems
    return (value) => Array.isArray(value) && value.length <= max
  }
  if (id === Schema.MinLengthSchemaId && typeof bounds?.minLength === "number") {
    const min = bounds.minLength
    return (value) => typeof value === "string" && value.length >= min
  }
  if (id === Schema.MaxLengthSchemaId && typeof bounds?.maxLength === "number") {
    const max = bounds.maxLength
    return (value) => typeof value === "string" && value.length <= max
  }
  const pattern = (ast.annotations[Schema.PatternSchemaId] as { readonly regex?: unknown } | undefined)?.regex
  if (id === Schema.PatternSchemaId && pattern instanceof RegExp) {
    return (value) => {
      pattern.lastIndex = 0
      return typeof value === "string" && pattern.test(value)
    }
  }
  return (value) => Option.isNone(ast.filter(value, SchemaAST.defaultParseOption, ast))
}

/** A chain of refinements (a string's length and pattern rules) runs as one loop over their predicates, innermost first. */
const refinement = (ast: SchemaAST.Refinement, options: Context): Compiled => {
  const predicates: Array<(value: unknown) => boolean> = []
  let base: SchemaAST.AST = ast
  while (SchemaAST.isRefinement(base)) {
    // The chain is walked here, not through `compile`: an inner link's parse options would be missed.
    if (base !== ast && base.annotations[SchemaAST.ParseOptionsAnnotationId] !== undefined) return undecided
    predicates.unshift(predicateOf(base, options))
    base = base.from
  }
  const from = compile(base, options)
  return (input) => {
    const value = from(input)
    if (value === UNDECIDED) return UNDECIDED
    for (const accepts of predicates) if (!accepts(value)) return UNDECIDED
    return value
  }
}

const declaration = (ast: SchemaAST.Declaration, options: Context): Compiled => {
  // Its own parser would see the inherited options; it is run here with the defaults only.
  if (ast.typeParameters.length > 0 || options.excessError === true) return undecided
  const parse = ast.decodeUnknown()
  return (input) => {
    const result = parse(input, SchemaAST.defaultParseOption, ast)
    return Either.isEither(result) && Either.isRight(result) ? result.right : UNDECIDED
  }
}

const typeLiteral = (ast: SchemaAST.TypeLiteral, options: Context): Compiled => {
  // `Schema.Struct({})` is the parser's "not null or undefined": the input itself is the value.
  if (ast.propertySignatures.length === 0 && ast.indexSignatures.length === 0) return (input) => (input === null || input === undefined ? UNDECIDED : input)
  // Records: only string keys (what `Object.keys` lists, as the parser reads them).
  if (ast.indexSignatures.some((signature) => !SchemaAST.isStringKeyword(signature.parameter))) return undecided
  const properties = ast.propertySignatures.map((signature) => ({ name: signature.name, optional: signature.isOptional, decode: compile(signature.type, options) }))
  const names = new Set<PropertyKey>(ast.propertySignatures.map((signature) => signature.name))
  const indexed = ast.indexSignatures.map((signature) => compile(signature.type, options))
  const excessError = options.excessError === true
  return (input) => {
    if (!isRecord(input)) return UNDECIDED
    // Every own key, symbols and non-enumerable ones included, must be declared (or a string, under a string index).
    if (excessError) for (const key of Reflect.ownKeys(input)) if (!names.has(key) && !(indexed.length > 0 && typeof key === "string")) return UNDECIDED
    const output: Record<PropertyKey, unknown> = {}
    for (const property of properties) {
      const has = Object.prototype.hasOwnProperty.call(input, property.name)
      // A missing optional key stays missing; a missing required one is decoded as `undefined`, as the parser does.
      if (!has && property.optional) continue
      const value = property.decode(input[property.name])
      if (value === UNDECIDED) return UNDECIDED
      output[property.name] = value
    }
    // The parser decodes every key's value with each index signature (declared keys too: their
    // value must pass both), and keeps it only for keys the struct does not declare.
    for (const decode of indexed) {
      for (const key of Object.keys(input)) {
        const value = decode(input[key])
        if (value === UNDECIDED || key === "__proto__") return UNDECIDED
        if (!names.has(key)) output[key] = value
      }
    }
    return output
  }
}

/**
 * Arrays and tuples: required elements, optional elements, at most one rest element (no elements
 * after it). Holes read as `undefined`, as the parser reads them.
 */
const tupleType = (ast: SchemaAST.TupleType, options: Context): Compiled => {
  if (ast.rest.length > 1) return undecided
  const elements = ast.elements.map((element) => compile(element.type, options))
  const required = ast.elements.filter((element) => !element.isOptional).length
  const rest = ast.rest.length === 1 ? compile(ast.rest[0].type, options) : undefined
  return (input) => {
    if (!Array.isArray(input)) return UNDECIDED
    const length = input.length
    if (length < required || (rest === undefined && length > elements.length)) return UNDECIDED
    const output: Array<unknown> = []
    let index = 0
    for (; index < elements.length && index < length; index++) {
      const value = elements[index](input[index])
      if (value === UNDECIDED) return UNDECIDED
      output.push(value)
    }
    if (rest !== undefined) {
      for (; index < length; index++) {
        const value = rest(input[index])
        if (value === UNDECIDED) return UNDECIDED
        output.push(value)
      }
    }
    return output
  }
}

/** A node with no transformation inside: decoding a value it already decoded gives that value again. */
const isTypeSide = (ast: SchemaAST.AST): boolean => SchemaAST.typeAST(ast) === ast

/** Where a property of a struct transformation's `to` side comes from. */
type Source =
  | { readonly kind: "kept" }
  | { readonly kind: "removed" }
  | { readonly kind: "step"; readonly step: SchemaAST.PropertySignatureTransformation }

const transformation = (ast: SchemaAST.Transformation, options: Context): Compiled => {
  // Only struct to struct, with steps that do not feed each other (`optionalWith` defaults, renames);
  // not under `onExcessProperty: "error"` or with parse options on `to` (its own decoding of the
  // stepped record is not replayed here).
  if (options.excessError === true || ast.to.annotations[SchemaAST.ParseOptionsAnnotationId] !== undefined) return undecided
  if (!SchemaAST.isTypeLiteralTransformation(ast.transformation) || !SchemaAST.isTypeLiteral(ast.from) || !SchemaAST.isTypeLiteral(ast.to) || ast.to.indexSignatures.length > 0) return undecided
  const steps = ast.transformation.propertySignatureTransformations
  const froms = new Set(steps.map((step) => step.from))
  const tos = new Set(steps.map((step) => step.to))
  if (froms.size !== steps.length || tos.size !== steps.length || steps.some((step) => step.from !== step.to && (tos.has(step.from) || froms.has(step.to)))) return undecided
  const from = compile(ast.from, options)
  const fromTypes = new Map(ast.from.propertySignatures.map((signature) => [signature.name, signature.type]))
  // The parser runs the steps on `from`'s record, then decodes the result with `to`. That second
  // decoding cannot change a property `from` already decoded with this very type, nor a step's
  // value that is the one `from` decoded (an `optionalWith` default passes a present value
  // through) when `from` typed it `T | undefined` and `to` types it `T`: those are kept as they are.
  const properties = ast.to.propertySignatures.map((signature) => {
    const step = steps.find((candidate) => candidate.to === signature.name)
    const source: Source = step !== undefined ? { kind: "step", step } : froms.has(signature.name) ? { kind: "removed" } : { kind: "kept" }
    const fromType = fromTypes.get(step?.from ?? signature.name)
    const optionalFrom = fromType !== undefined && SchemaAST.isUnion(fromType) && fromType.types.length === 2 && SchemaAST.isUndefinedKeyword(fromType.types[1]) ? fromType.types[0] : undefined
    return {
      name: signature.name,
      optional: signature.isOptional,
      source,
      decode: compile(signature.type, options),
      decoded: source.kind === "kept" && fromType === signature.type && isTypeSide(signature.type),
      passedThrough: source.kind === "step" && optionalFrom === signature.type && isTypeSide(signature.type),
    }
  })
  return (input) => {
    const value = from(input)
    if (value === UNDECIDED) return UNDECIDED
    const record = value as Record<PropertyKey, unknown>
    const output: Record<PropertyKey, unknown> = {}
    for (const property of properties) {
      let has: boolean
      let current: unknown
      let unchanged = property.decoded
      if (property.source.kind === "step") {
        const name = property.source.step.from
        const present = Object.prototype.hasOwnProperty.call(record, name)
        const moved = property.source.step.decode(present ? Option.some(record[name]) : Option.none())
        has = Option.isSome(moved)
        current = has ? (moved as Option.Some<unknown>).value : undefined
        unchanged = property.passedThrough && present && current !== undefined && current === record[name]
      } else if (property.source.kind === "removed") {
        has = false
        current = undefined
      } else {
        has = Object.prototype.hasOwnProperty.call(record, property.name)
        current = record[property.name]
      }
      if (!has && property.optional) continue
      if (has && unchanged) {
        output[property.name] = current
        continue
      }
      const decoded = property.decode(current)
      if (decoded === UNDECIDED) return UNDECIDED
      output[property.name] = decoded
    }
    return output
  }
}

/** The struct a union member decodes from (itself, or the `from` side of its transformation). */
const encodedStruct = (ast: SchemaAST.AST): SchemaAST.TypeLiteral | undefined =>
  SchemaAST.isTypeLiteral(ast) ? ast : SchemaAST.isTransformation(ast) ? encodedStruct(ast.from) : undefined

/** The literal a member requires at `name`, when it requires one. */
const requiredLiteral = (ast: SchemaAST.AST, name: PropertyKey): SchemaAST.LiteralValue | undefined => {
  const signature = encodedStruct(ast)?.propertySignatures.find((candidate) => candidate.name === name)
  return signature !== undefined && !signature.isOptional && SchemaAST.isLiteral(signature.type) ? signature.type.literal : undefined
}

/**
 * A cheap test that is false only when the node refuses the input whatever it holds (its type is
 * wrong); `undefined` when no such test is known.
 */
const typeGuard = (ast: SchemaAST.AST): ((input: unknown) => boolean) | undefined => {
  switch (ast._tag) {
    case "Literal":
      return (input) => input === ast.literal
    case "UndefinedKeyword":
      return (input) => input === undefined
    case "StringKeyword":
      return (input) => typeof input === "string"
    case "NumberKeyword":
      return (input) => typeof input === "number"
    case "BooleanKeyword":
      return (input) => typeof input === "boolean"
    case "TupleType":
      return Array.isArray
    case "TypeLiteral":
      return ast.propertySignatures.length === 0 && ast.indexSignatures.length === 0 ? (input) => input !== null && input !== undefined : isRecord
    case "Refinement":
      return typeGuard(ast.from)
    default:
      return undefined
  }
}

/**
 * Whether the parser may file the member under a literal key of its search tree (then it is not
 * tried in declaration order): a struct or tuple with a required literal, or anything that can
 * hide one (declarations, suspensions, transformations).
 */
const mayHaveLiteralKeys = (ast: SchemaAST.AST): boolean => {
  switch (ast._tag) {
    case "TypeLiteral":
      return ast.propertySignatures.some((signature) => !signature.isOptional && SchemaAST.isLiteral(SchemaAST.encodedAST(signature.type)))
    case "TupleType":
      return ast.elements.some((element) => !element.isOptional && SchemaAST.isLiteral(SchemaAST.encodedAST(element.type)))
    case "Refinement":
      return mayHaveLiteralKeys(ast.from)
    case "Declaration":
    case "Suspend":
    case "Transformation":
      return true
    default:
      return false
  }
}

const union = (ast: SchemaAST.Union, options: Context): Compiled => {
  const members = ast.types
  if (members.every(SchemaAST.isLiteral)) {
    const literals = new Set<unknown>(members.map((member) => (member as SchemaAST.Literal).literal))
    return (input) => (literals.has(input) ? input : UNDECIDED)
  }
  // `X | undefined` (an optional field): at most one member can accept any input.
  if (members.length === 2 && SchemaAST.isUndefinedKeyword(members[1])) {
    const decode = compile(members[0], options)
    return (input) => (input === undefined ? undefined : decode(input))
  }
  // Members told apart by one required literal property: only the member it names can accept.
  const first = encodedStruct(members[0])
  for (const signature of first?.propertySignatures ?? []) {
    const literals = members.map((member) => requiredLiteral(member, signature.name))
    if (literals.some((literal) => literal === undefined) || new Set(literals).size !== members.length) continue
    const byLiteral = new Map(members.map((member, index) => [literals[index], compile(member, options)]))
    const name = signature.name
    return (input) => (isRecord(input) ? (byLiteral.get(input[name] as SchemaAST.LiteralValue) ?? undecided)(input) : UNDECIDED)
  }
  // Tried in order (`NullOr`, `String | Number`): the first member that accepts wins. A member is
  // skipped only when its type test refuses the input; the first one that may accept decides (its
  // value, or UNDECIDED: it might refuse where a later member accepts).
  if (members.some(mayHaveLiteralKeys)) return undecided
  const ordered = members.map((member) => ({ guard: typeGuard(member), decode: compile(member, options) }))
  return (input) => {
    for (const member of ordered) if (member.guard === undefined || member.guard(input)) return member.decode(input)
    return UNDECIDED
  }
}

/** The parse options a node's annotation sets for it and the nodes below it, or `undefined` when it sets one this does not follow. */
const withParseOptions = (ast: SchemaAST.AST, options: Context): Context | undefined => {
  const parseOptions = ast.annotations[SchemaAST.ParseOptionsAnnotationId] as SchemaAST.ParseOptions | undefined
  if (parseOptions === undefined) return options
  for (const key of Object.keys(parseOptions)) if (key !== "onExcessProperty" && key !== "errors") return undefined
  const excess = parseOptions.onExcessProperty
  if (excess === undefined) return options
  return excess === "error" ? { ...options, excessError: true } : excess === "ignore" ? { ...options, excessError: false } : undefined
}

const compile = (ast: SchemaAST.AST, inherited: Context): Compiled => {
  const options = withParseOptions(ast, inherited)
  if (options === undefined) return undecided
  switch (ast._tag) {
    case "Literal":
      return (input) => (input === ast.literal ? input : UNDECIDED)
    case "StringKeyword":
      return (input) => (typeof input === "string" ? input : UNDECIDED)
    case "NumberKeyword":
      return (input) => (typeof input === "number" ? input : UNDECIDED)
    case "BooleanKeyword":
      return (input) => (typeof input === "boolean" ? input : UNDECIDED)
    case "UnknownKeyword":
      return (input) => input
    case "UndefinedKeyword":
      return (input) => (input === undefined ? input : UNDECIDED)
    case "Refinement":
      return refinement(ast, options)
    case "Declaration":
      return declaration(ast, options)
    case "TypeLiteral":
      return typeLiteral(ast, options)
    case "TupleType":
      return tupleType(ast, options)
    case "Transformation":
      return transformation(ast, options)
    case "Union":
      return union(ast, options)
    default:
      return undecided
  }
}

/**
 * Compile a Schema's decoding. The result agrees with `Schema.decodeUnknownEither(schema)` on every
 * input it accepts (test/compiled-decoder.test.ts checks that on generated and hostile input).
 */
export const compileDecoder = <A, I>(schema: Schema.Schema<A, I, never>, options: CompileOptions = {}): ((input: unknown) => A | Undecided) =>
  compile(schema.ast, options) as (input: unknown) => A | Undecided
