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
 * structs without index signatures, struct-to-struct transformations (`optionalWith` defaults: the
 * Schema's own property transformations), and unions whose members are told apart by a required
 * literal property (a frame's `type`) or that are `X | undefined` (optional fields). Any other node
 * answers `UNDECIDED` for whatever reaches it, so what this does not know is decided by the Schema.
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

const undecided: Compiled = () => UNDECIDED

const isRecord = (input: unknown): input is Record<PropertyKey, unknown> => typeof input === "object" && input !== null && !Array.isArray(input)

/**
 * The filter of a refinement as a plain predicate: the string length and pattern filters from
 * their own annotations (the bound and the regex their predicate closes over), a filter the caller
 * names (`CompileOptions.filters`) with the predicate given, any other one through its own `filter`.
 */
const predicateOf = (ast: SchemaAST.Refinement, options: CompileOptions): ((value: unknown) => boolean) => {
  const named = options.filters?.get(ast)
  if (named !== undefined) return named
  const id = ast.annotations[SchemaAST.SchemaIdAnnotationId]
  const bounds = ast.annotations[SchemaAST.JSONSchemaAnnotationId] as { readonly minLength?: unknown; readonly maxLength?: unknown } | undefined
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
const refinement = (ast: SchemaAST.Refinement, options: CompileOptions): Compiled => {
  const predicates: Array<(value: unknown) => boolean> = []
  let base: SchemaAST.AST = ast
  while (SchemaAST.isRefinement(base)) {
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

const declaration = (ast: SchemaAST.Declaration): Compiled => {
  if (ast.typeParameters.length > 0) return undecided
  const parse = ast.decodeUnknown()
  return (input) => {
    const result = parse(input, SchemaAST.defaultParseOption, ast)
    return Either.isEither(result) && Either.isRight(result) ? result.right : UNDECIDED
  }
}

const typeLiteral = (ast: SchemaAST.TypeLiteral, options: CompileOptions): Compiled => {
  if (ast.indexSignatures.length > 0) return undecided
  const properties = ast.propertySignatures.map((signature) => ({ name: signature.name, optional: signature.isOptional, decode: compile(signature.type, options) }))
  return (input) => {
    if (!isRecord(input)) return UNDECIDED
    const output: Record<PropertyKey, unknown> = {}
    for (const property of properties) {
      const has = Object.prototype.hasOwnProperty.call(input, property.name)
      // A missing optional key stays missing; a missing required one is decoded as `undefined`, as the parser does.
      if (!has && property.optional) continue
      const value = property.decode(input[property.name])
      if (value === UNDECIDED) return UNDECIDED
      output[property.name] = value
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

const transformation = (ast: SchemaAST.Transformation, options: CompileOptions): Compiled => {
  // Only struct to struct, with steps that do not feed each other (`optionalWith` defaults, renames).
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

const union = (ast: SchemaAST.Union, options: CompileOptions): Compiled => {
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
  return undecided
}

const compile = (ast: SchemaAST.AST, options: CompileOptions): Compiled => {
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
      return declaration(ast)
    case "TypeLiteral":
      return typeLiteral(ast, options)
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
