// Every workload `npm run bench` knows, in report order. Each module's default export follows the
// contract in bench/README.md.
import smoke from "./smoke.mjs"
import db from "./db.mjs"
import yjsEdit from "./yjs-edit.mjs"
import yjsJoin from "./yjs-join.mjs"
import yjsStorage from "./yjs-storage.mjs"

export const workloads = [smoke, yjsEdit, yjsJoin, yjsStorage, db]
