// Every workload `npm run bench` knows, in report order. Each module's default export follows the
// contract in bench/README.md.
import smoke from "./smoke.mjs"
import fanout from "./fanout.mjs"
import fanoutSaturation from "./fanoutSaturation.mjs"
import wake from "./wake.mjs"
import db from "./db.mjs"
import yjsEdit from "./yjs-edit.mjs"
import yjsJoin from "./yjs-join.mjs"
import yjsStorage from "./yjs-storage.mjs"

export const workloads = [smoke, fanout, fanoutSaturation, wake, yjsEdit, yjsJoin, yjsStorage, db]
