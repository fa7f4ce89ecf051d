// Picks the backend from config.storage (PLINTH_STORAGE_*).
import { join, resolve } from "node:path";
import type { Config } from "../../config/schema.ts";
import type { StorageBackend } from "./backend.ts";
import { createLocalBackend } from "./local.ts";
import { createS3Backend } from "./s3.ts";

/** Where the local backend keeps object bytes (and the S3 backend stages resumable uploads). */
export function localStorageDir(config: Config): string {
  const { localDir } = config.storage;
  return localDir ? resolve(process.cwd(), localDir) : join(resolve(config.dataDir), "storage");
}

export async function createBackend(config: Config): Promise<StorageBackend> {
  const storage = config.storage;
  const localDir = localStorageDir(config);
  if (storage.backend === "local") return createLocalBackend(localDir);
  const s3 = storage.s3;
  if (!s3.bucket) throw new Error("storage.backend is s3 but storage.s3.bucket (PLINTH_STORAGE_S3_BUCKET) is not set");
  return createS3Backend({
    endpoint: s3.endpoint,
    bucket: s3.bucket,
    region: s3.region,
    accessKeyId: s3.accessKeyId,
    secretAccessKey: s3.secretAccessKey,
    forcePathStyle: s3.forcePathStyle,
    stagingDir: join(localDir, "uploads"),
  });
}
