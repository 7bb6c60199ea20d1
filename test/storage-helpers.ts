/**
 * Conformance-suite helpers: run one test body against a storage Tag's SQLite layer (over a fresh
 * Durable Object's real SQLite, migrated) and its in-memory layer, under TestContext.
 */
import { env, runInDurableObject } from "cloudflare:test"
import { Cause, Effect, Exit, Layer, TestContext } from "effect"
import { metaMigration } from "../src/storage/Meta.js"
import * as Sql from "../src/services/Sql.js"
import { uniqueId } from "./helpers.js"

type Migration = { readonly name: string; readonly statements: ReadonlyArray<string> }

export const storageLayers = <S>(spec: {
  readonly migrations: ReadonlyArray<Migration>
  readonly sqlite: Layer.Layer<S, never, Sql.Sql>
  readonly memory: Layer.Layer<S>
}) => {
  const runWith = <A>(layer: Layer.Layer<S>, body: Effect.Effect<A, unknown, S>) =>
    Effect.runPromiseExit(body.pipe(Effect.provide(layer), Effect.provide(TestContext.TestContext)))
  const layers = {
    sqlite: <A>(body: Effect.Effect<A, unknown, S>) => {
      const namespace = (env as unknown as { REALTIME_ROOMS: DurableObjectNamespace }).REALTIME_ROOMS
      const stub = namespace.get(namespace.idFromName(uniqueId("storage")))
      return runInDurableObject(stub, async (_instance, state) => {
        const sql = Sql.layer(state.storage)
        await Effect.runPromise(
          Effect.flatMap(Sql.Sql, (service) => Sql.migrate(service, [metaMigration, ...spec.migrations])).pipe(Effect.provide(sql)),
        )
        return runWith(spec.sqlite.pipe(Layer.provide(sql)), body)
      })
    },
    memory: <A>(body: Effect.Effect<A, unknown, S>) => runWith(spec.memory, body),
  }
  /** Run a body on a fresh store of the named layer; a failure fails the test with the pretty cause. */
  return async <A>(layer: "sqlite" | "memory", body: Effect.Effect<A, unknown, S>): Promise<A> => {
    const exit = await layers[layer](body)
    if (Exit.isSuccess(exit)) return exit.value
    throw new Error(Cause.pretty(exit.cause))
  }
}
