/**
 * The Worker the test suite runs against: the example app (its default export and Durable Object
 * classes) plus instances with small limits for tests.
 */
import { realtime } from "../src/index.js"

export * from "../examples/worker.js"
export { default } from "../examples/worker.js"

/** Small limits so pruning, idling and payload checks are quick to reach. */
export const testInstance = realtime({ name: "test", historyLimit: 20, maxPayloadBytes: 1024, idleAfterMs: 200 })
export const otherInstance = realtime({ name: "other" })
