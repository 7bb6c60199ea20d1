/** The Durable Object class hosting an instance's directory. Bind it as `REALTIME_DIRECTORY`. @since 0.1.0 */
import { directoryMigrations, makeDirectory } from "../actors/Directory.js"
import { ActorHost } from "./ActorHost.js"

export class RealtimeDirectory extends ActorHost {
  protected readonly kind = "directory" as const
  protected readonly migrations = directoryMigrations
  protected readonly makeActor = makeDirectory
}
