/** The Durable Object class hosting an instance's directory. Bind it as `REALTIME_DIRECTORY`. @since 0.1.0 */
import { directoryMigrations, makeDirectory } from "../actors/directory/Directory.js"
import type { ActorAddress } from "../internal/ActorAddress.js"
import { instanceNotDeclared, lookupInstance, type ResolvedConfig } from "../Config.js"
import { databaseDefinition, databaseInstance } from "../db/Declaration.js"
import type { InstanceNotDeclared } from "../RealtimeError.js"
import * as DirectoryStore from "../storage/DirectoryStore.js"
import { ActorHost } from "./ActorHost.js"

/** The stores this kind's actor uses (its entries); its objects build no others. */
const directoryStores = [DirectoryStore.sqlite] as const

export class RealtimeDirectory extends ActorHost<typeof directoryStores> {
  protected readonly kind = "directory" as const
  protected readonly migrations = directoryMigrations
  protected readonly stores = directoryStores
  protected readonly makeActor = makeDirectory

  /** A realtime instance's directory, or a database's (`namespace/name`), where its table hubs report. */
  protected override resolveInstance(address: ActorAddress): ResolvedConfig | InstanceNotDeclared {
    return (
      lookupInstance(address.instance) ??
      (databaseDefinition(address.instance) !== undefined ? databaseInstance(address.instance, this.kind) : instanceNotDeclared(address.instance, this.kind))
    )
  }
}
