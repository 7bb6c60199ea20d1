// Every workload `npm run bench` knows, in report order. Each module's default export follows the
// contract in bench/README.md.
import smoke from "./smoke.mjs"
import fanout from "./fanout.mjs"
import fanoutSaturation from "./fanoutSaturation.mjs"
import wake from "./wake.mjs"
import publish from "./publish.mjs"
import history from "./history.mjs"
import yjsEdit from "./yjs-edit.mjs"
import yjsJoin from "./yjs-join.mjs"
import yjsStorage from "./yjs-storage.mjs"
import yjsIngest from "./yjs-ingest.mjs"
import db from "./db.mjs"
import roomFill from "./room-fill.mjs"
import dbThroughput from "./db-throughput.mjs"
import receiveOne from "./receive-one.mjs"
import idleHeap from "./idle-heap.mjs"

export const workloads = [smoke, fanout, fanoutSaturation, wake, idleHeap, receiveOne, publish, history, yjsEdit, yjsJoin, yjsIngest, yjsStorage, db, dbThroughput, roomFill]
