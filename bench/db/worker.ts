/** The benchmark Worker: the test Worker (every library class and the test databases) plus the raw baseline. */
export * from "../../test/worker.js"
export { default } from "../../test/worker.js"
export { RawOutboxBaseline } from "./baseline.js"
