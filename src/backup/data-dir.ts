// The parts of a Plinth deployment that a backup carries, as one configuration places them: the
// embedded cluster (unless PLINTH_DB_URL names the operator's database), the local storage
// backend's objects, the data dir's secrets and the configuration file. Backup and restore both
// ask here, so they never disagree about where something lives.
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import type { LoadedConfig } from "../config/index.ts";
import { localStorageDir } from "../storage/backends/factory.ts";

export interface DeploymentParts {
  dataDir: string;
  /** False when the database is the operator's (db.url / PLINTH_DB_URL). */
  embedded: boolean;
  /** `<dataDir>/pg`: the cluster, or a symlink to it when relocated. */
  clusterLink: string;
  /** The local backend's root; null when objects live in S3. */
  storageDir: string | null;
  /** Where the local backend keeps complete objects (the only storage files backed up). */
  objectsDir: string | null;
  s3Bucket: string | null;
  configFile: string | null;
}

export function deploymentParts(loaded: LoadedConfig): DeploymentParts {
  const { config } = loaded;
  const storageDir = config.storage.backend === "local" ? localStorageDir(config) : null;
  return {
    dataDir: config.dataDir,
    embedded: !config.db.url,
    clusterLink: join(config.dataDir, "pg"),
    storageDir,
    objectsDir: storageDir === null ? null : join(storageDir, "objects"),
    s3Bucket: config.storage.backend === "s3" ? (config.storage.s3.bucket ?? null) : null,
    configFile: loaded.file,
  };
}

/** A directory that does not exist or has no entries. */
export function isEmptyDir(dir: string): boolean {
  if (!existsSync(dir)) return true;
  return readdirSync(dir).length === 0;
}

/** `child` is `parent` or lies below it (both absolute, normalised). */
export function isWithin(child: string, parent: string): boolean {
  return child === parent || child.startsWith(parent.endsWith("/") ? parent : `${parent}/`);
}
