// Every workload `npm run bench` knows, in report order. Each module's default export follows the
// contract in bench/README.md.
import smoke from "./smoke.mjs"
import fanout from "./fanout.mjs"
import fanoutSaturation from "./fanoutSaturation.mjs"
import wake from "./wake.mjs"

export const workloads = [smoke, fanout, fanoutSaturation, wake]
