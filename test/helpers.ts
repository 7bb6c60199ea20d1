/**
 * Test helpers: run Effects in tests and get typed handles on the test instances.
 */
import { env } from "cloudflare:test"
import { Cause, Effect, Exit } from "effect"
import { instanceConfig } from "../src/Config.js"
import { makeRealtime } from "../src/Realtime.js"
import "./worker.js"

/** Run an Effect as a test body; a failure fails the test with Effect's pretty cause. */
export const runTest = async <A, E>(effect: Effect.Effect<A, E>): Promise<A> => {
  const exit = await Effect.runPromiseExit(effect)
  if (Exit.isSuccess(exit)) return exit.value
  throw new Error(Cause.pretty(exit.cause))
}

/** Run an Effect and return its Exit, to assert on typed failures. */
export const runExit = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromiseExit(effect)

/** The failure of an Exit, or throw. */
export const failureOf = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (Exit.isSuccess(exit)) throw new Error(`expected a failure, got ${JSON.stringify(exit.value)}`)
  const failure = Cause.failureOption(exit.cause)
  if (failure._tag === "None") throw new Error(`expected a typed failure, got ${Cause.pretty(exit.cause)}`)
  return failure.value
}

/** The Realtime service of a test instance. */
export const service = (name: "test" | "other" | "live" | "strict" = "test") =>
  makeRealtime(instanceConfig(name), env as unknown as Record<string, unknown>)

let counter = 0
/** A fresh id per test so tests never share an actor. */
export const uniqueId = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${(counter++).toString(36)}`
