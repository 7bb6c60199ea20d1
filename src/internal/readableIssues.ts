/**
 * Schema parse failures as sentences a person can read: one per problem, naming the field and
 * what was expected (`type: is missing (a non-empty string)`), instead of Schema's type dump.
 *
 * `ParseResult.ArrayFormatter` gives each problem's path and message; the expectation comes from
 * the schema itself (its `description` annotations, else its shape), found by walking the failing
 * schema's AST along the path. Schema's own tree (`TreeFormatter`) is kept for debugging.
 *
 * @since 0.1.0
 */
import { Option, ParseResult, SchemaAST as AST } from "effect"

/** Most problems a message lists; the rest are counted. */
const MAX_PROBLEMS = 5
/** Longest rendering of an offending value inside a sentence. */
const MAX_ACTUAL = 80
/** Longest Schema tree kept in `issue`. */
const MAX_TREE = 4_000

type Path = ReadonlyArray<PropertyKey>

/**
 * The sub-schemas at a path of an input, on whichever side of a transformation has it; every
 * branch of a union that has the path (a tagged union's `type` is each member's literal).
 */
const schemasAt = (ast: AST.AST, path: Path, depth = 0): ReadonlyArray<AST.AST> => {
  if (depth > 32) return []
  if (path.length === 0) return [ast]
  const [key, ...rest] = path
  switch (ast._tag) {
    case "Transformation": {
      const from = schemasAt(ast.from, path, depth + 1)
      return from.length > 0 ? from : schemasAt(ast.to, path, depth + 1)
    }
    case "Refinement":
      return schemasAt(ast.from, path, depth + 1)
    case "Suspend":
      return schemasAt(ast.f(), path, depth + 1)
    case "Union":
      return ast.types.flatMap((member) => schemasAt(member, path, depth + 1))
    case "TypeLiteral": {
      const property = ast.propertySignatures.find((signature) => signature.name === key)
      if (property !== undefined) return schemasAt(property.type, rest, depth + 1)
      const index = ast.indexSignatures[0]
      return index === undefined ? [] : schemasAt(index.type, rest, depth + 1)
    }
    case "TupleType": {
      const element = typeof key === "number" ? ast.elements[key]?.type ?? ast.rest[0]?.type : undefined
      return element === undefined ? [] : schemasAt(element, rest, depth + 1)
    }
    default:
      return []
  }
}

/** What the schema expects at a path, in words. */
const expectedAt = (root: AST.AST, path: Path): string | undefined => {
  const found = schemasAt(root, path)
  if (found.length === 0) return undefined
  return describeExpected(found.length === 1 ? found[0]! : AST.Union.make(found))
}

const literalText = (literal: AST.LiteralValue) => (typeof literal === "bigint" ? `${literal}n` : JSON.stringify(literal))

/** What a schema expects, in words: its description annotation, else a phrase from its shape. */
export const describeExpected = (ast: AST.AST, depth = 0): string | undefined => {
  if (depth > 16) return undefined
  const own = Option.getOrUndefined(AST.getDescriptionAnnotation(ast))
  switch (ast._tag) {
    case "Literal":
      return literalText(ast.literal)
    case "Union": {
      if (own !== undefined) return own
      const members = ast.types.filter((member) => member._tag !== "UndefinedKeyword")
      if (members.length > 0 && members.every((member) => member._tag === "Literal")) {
        const literals = [...new Set(members.map((member) => literalText((member as AST.Literal).literal)))]
        return literals.length === 1 ? literals[0] : `one of ${literals.join(", ")}`
      }
      const parts = [...new Set(members.map((member) => describeExpected(member, depth + 1)).filter((part) => part !== undefined))]
      return parts.length === 0 ? undefined : parts.join(" or ")
    }
    case "Transformation":
      return own ?? describeExpected(ast.from, depth + 1)
    case "Refinement":
      return own ?? describeExpected(ast.from, depth + 1)
    case "Suspend":
      return describeExpected(ast.f(), depth + 1)
    case "TypeLiteral":
      return own ?? "an object"
    case "TupleType":
      return own ?? "an array"
    case "UndefinedKeyword":
      return undefined
    case "Declaration":
      return own ?? Option.getOrUndefined(AST.getIdentifierAnnotation(ast))
    default:
      return own
  }
}

interface Problem {
  readonly path: Path
  readonly tag: string
  readonly message: string
}

const EXPECTED = /^Expected ([\s\S]+), actual ([\s\S]+)$/
/** The branch of `optional` / `NullOr` that is only there to allow absence: noise once another branch failed. */
const ABSENCE = /^Expected (undefined|null), actual /

const sameOrUnder = (prefix: Path, path: Path) => prefix.length <= path.length && prefix.every((key, i) => key === path[i])

const clip = (text: string) => (text.length > MAX_ACTUAL ? `${text.slice(0, MAX_ACTUAL - 1)}…` : text)

/** One sentence for the problems of one path. */
const sentence = (root: AST.AST | undefined, path: Path, problems: ReadonlyArray<Problem>): string => {
  const expected = root === undefined ? undefined : expectedAt(root, path)
  if (problems.some((problem) => problem.tag === "Missing")) return expected === undefined ? "is missing" : `is missing (${expected})`
  // A schema's own message ("must not be empty") says it best.
  const own = problems.find((problem) => !EXPECTED.test(problem.message))
  if (own !== undefined) return own.message
  const first = EXPECTED.exec(problems[0]!.message)!
  const actual = clip(first[2]!)
  // `{ type: body.type }` with no `type` in the body: to the person who sent it, the field is missing.
  if (actual === "undefined") return expected === undefined ? "is missing" : `is missing (${expected})`
  // A refinement names the exact rule that failed; a type mismatch is best told as the field's expectation.
  const wanted = problems.length === 1 && problems[0]!.tag === "Refinement" ? first[1] : (expected ?? first[1])
  return `expected ${wanted}, got ${actual}`
}

export interface ReadableIssues {
  /** The first failing field, dotted (`actor.id`), or `root` for the input itself. */
  readonly field: string
  /** One sentence per problem, `field: what was expected`, joined with `; `. */
  readonly message: string
  /** Schema's full tree of the failure, for debugging. */
  readonly issue: string
}

/** Turn a Schema parse failure into readable sentences. `root` names the input when the path is empty. */
export const readableIssues = (error: ParseResult.ParseError, root = "input"): ReadableIssues => {
  const all: ReadonlyArray<Problem> = ParseResult.ArrayFormatter.formatErrorSync(error).map((issue) => ({ path: issue.path, tag: issue._tag, message: issue.message }))
  // `optional(X)` fails as "X failed" plus "Expected undefined": keep the first unless it is all there is.
  const problems = all.filter(
    (problem) =>
      !ABSENCE.test(problem.message) ||
      !all.some((other) => other !== problem && !ABSENCE.test(other.message) && sameOrUnder(problem.path, other.path)),
  )
  const groups = new Map<string, Array<Problem>>()
  for (const problem of problems) {
    const key = JSON.stringify(problem.path.map(String))
    const group = groups.get(key)
    if (group === undefined) groups.set(key, [problem])
    else group.push(problem)
  }
  // Every issue but a Pointer, Missing or Unexpected key carries the schema that failed; at the root that is the input's schema.
  const ast = error.issue._tag === "Pointer" || error.issue._tag === "Unexpected" || error.issue._tag === "Missing" ? undefined : error.issue.ast
  const name = (path: Path) => (path.length === 0 ? root : path.map(String).join("."))
  const sentences = [...groups.values()].map((group) => `${name(group[0]!.path)}: ${sentence(ast, group[0]!.path, group)}`)
  const shown = sentences.slice(0, MAX_PROBLEMS)
  if (sentences.length > MAX_PROBLEMS) shown.push(`and ${sentences.length - MAX_PROBLEMS} more`)
  const tree = error.message
  return {
    field: problems.length === 0 ? root : name(problems[0]!.path),
    message: shown.length === 0 ? `${root}: is not valid` : shown.join("; "),
    issue: tree.length > MAX_TREE ? `${tree.slice(0, MAX_TREE - 1)}…` : tree,
  }
}
