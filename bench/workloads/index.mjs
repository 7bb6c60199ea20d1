// Every workload `npm run bench` knows, in report order. Each module's default export follows the
// contract in bench/README.md.
import smoke from "./smoke.mjs"
import publish from "./publish.mjs"
import history from "./history.mjs"

export const workloads = [smoke, publish, history]
