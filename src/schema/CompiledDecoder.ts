/**
 * A synchronous decoder compiled from a Schema's AST, for the frames every socket message carries
 * (`ClientFrame`): it gives exactly what `Schema.decodeUnknownEither(schema)` gives when that
 * succeeds, or `UNDECIDED`, and then the caller runs the Schema itself (which also words the
 * error). So the Schema stays the one definition of what is valid, and every refusal is still the
 * Schema's own; the compiled form only skips the generic parser's machinery for input it accepts
 * (issue 16: the `ClientFrame` decode was ~30 µs of a frame's ~40 µs of JavaScript, in Node 24).
 *
 * Compiled, with the parser's semantics (effect/ParseResult, default options: excess properties
 * dropped, properties in the Schema's order): literals, string / number / boolean / unknown /
 * undefined keywords, refinements (their own `filter`, the very predicate the Schema runs),
 * declarations without type parameters (their own `decodeUnknown`, when it answers synchronously),
 * structs without index signatures, struct-to-struct transformations (`optionalWith` defaults: the
 * Schema's own property transformations), and unions whose members are told apart by a required
 * literal property (a frame's `type`) or that are `X | undefined` (optional fields). Any other node
 * answers `UNDECIDED` for whatever reaches it, so what this does not know is decided by the Schema.
 *
 * @since 0.2.0
 */
import { Either, Option, type Schema, SchemaAST } from "effect"

/** "Ask the Schema": the compiled decoder does not accept this input (it may still be valid, or not). */
export const UNDECIDED: unique symbol = Symbol("durable-realtime/UNDECIDED")
export type Undecided = typeof UNDECIDED

type Compiled = (input: unknown) => unknown

const undecided: Compiled = () => UNDECIDED

const isRecord = (input: unknown): input is Record<PropertyKey, unknown> => typeof input === "object" && input !== null && !Array.isArray(input)

const refinement = (ast: SchemaAST.Refinement): Compiled => {
  const from = compile(ast.from)
  return (input) => {
    const value = from(input)
    return value !== UNDECIDED && Option.isNone(ast.filter(value, SchemaAST.defaultParseOption, ast)) ? value : UNDECIDED
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

const typeLiteral = (ast: SchemaAST.TypeLiteral): Compiled => {
  if (ast.indexSignatures.length > 0) return undecided
  const properties = ast.propertySignatures.map((signature) => ({ name: signature.name, optional: signature.isOptional, decode: compile(signature.type) }))
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

const transformation = (ast: SchemaAST.Transformation): Compiled => {
  // Only from a struct, which `from` builds afresh: the property transformations edit it in place.
  if (!SchemaAST.isTypeLiteralTransformation(ast.transformation) || !SchemaAST.isTypeLiteral(ast.from)) return undecided
  const from = compile(ast.from)
  const to = compile(ast.to)
  const steps = ast.transformation.propertySignatureTransformations
  return (input) => {
    const value = from(input)
    if (value === UNDECIDED) return UNDECIDED
    const record = value as Record<PropertyKey, unknown>
    for (const step of steps) {
      const moved = step.decode(Object.prototype.hasOwnProperty.call(record, step.from) ? Option.some(record[step.from]) : Option.none())
      delete record[step.from]
      if (Option.isSome(moved)) record[step.to] = moved.value
    }
    return to(record)
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

const union = (ast: SchemaAST.Union): Compiled => {
  const members = ast.types
  if (members.every(SchemaAST.isLiteral)) {
    const literals = new Set<unknown>(members.map((member) => (member as SchemaAST.Literal).literal))
    return (input) => (literals.has(input) ? input : UNDECIDED)
  }
  // `X | undefined` (an optional field): at most one member can accept any input.
  if (members.length === 2 && SchemaAST.isUndefinedKeyword(members[1])) {
    const decode = compile(members[0])
    return (input) => (input === undefined ? undefined : decode(input))
  }
  // Members told apart by one required literal property: only the member it names can accept.
  const first = encodedStruct(members[0])
  for (const signature of first?.propertySignatures ?? []) {
    const literals = members.map((member) => requiredLiteral(member, signature.name))
    if (literals.some((literal) => literal === undefined) || new Set(literals).size !== members.length) continue
    const byLiteral = new Map(members.map((member, index) => [literals[index], compile(member)]))
    const name = signature.name
    return (input) => (isRecord(input) ? (byLiteral.get(input[name] as SchemaAST.LiteralValue) ?? undecided)(input) : UNDECIDED)
  }
  return undecided
}

const compile = (ast: SchemaAST.AST): Compiled => {
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
      return refinement(ast)
    case "Declaration":
      return declaration(ast)
    case "TypeLiteral":
      return typeLiteral(ast)
    case "Transformation":
      return transformation(ast)
    case "Union":
      return union(ast)
    default:
      return undecided
  }
}

/**
 * Compile a Schema's decoding. The result agrees with `Schema.decodeUnknownEither(schema)` on every
 * input it accepts (test/compiled-decoder.test.ts checks that on generated and hostile input).
 */
export const compileDecoder = <A, I>(schema: Schema.Schema<A, I, never>): ((input: unknown) => A | Undecided) => compile(schema.ast) as (input: unknown) => A | Undecided
