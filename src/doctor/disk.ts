// data_dir and storage: the directories Plinth writes to exist (or can be created), take a write,
// and have room. Writability is proven by writing and removing a probe file, not by reading mode
// bits: root ignores the bits, and a read-only mount or a full disk only shows on a real write.
import { accessSync, constants, statfsSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { dirname, join } from "node:path";
import type { LoadedConfig } from "../config/index.ts";
import { createBackend, localStorageDir } from "../storage/backends/factory.ts";
import { fail, messageOf, ok, warn, within, type CheckResult } from "./check.ts";

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
/** Below this PostgreSQL and uploads are about to fail: a failure. */
export const FAIL_FREE_BYTES = 100 * MiB;
/** Below this, or below WARN_FREE_RATIO of the filesystem: a warning. */
export const WARN_FREE_BYTES = 1 * GiB;
export const WARN_FREE_RATIO = 0.1;
const S3_TIMEOUT_MS = 5_000;

export function formatBytes(n: number): string {
  if (n >= GiB) return `${(n / GiB).toFixed(1)} GiB`;
  if (n >= MiB) return `${(n / MiB).toFixed(0)} MiB`;
  return `${Math.max(0, Math.round(n / 1024))} KiB`;
}

const errCode = (err: unknown) => (err as NodeJS.ErrnoException | null)?.code ?? messageOf(err);

/**
 * One directory Plinth must write to. `what` names it in messages ("the data dir"), `holds` says
 * what running out of room breaks.
 */
export function checkWritableDir(name: string, dir: string, what: string, holds: string): CheckResult {
  let target = dir;
  let missing = false;
  for (;;) {
    let st: ReturnType<typeof statSync>;
    try {
      st = statSync(target);
    } catch (err) {
      if (errCode(err) !== "ENOENT" || dirname(target) === target) {
        return fail(name, `${what} ${dir} cannot be examined: ${errCode(err)}`, `make ${dir} (or its parent) accessible to the user Plinth runs as`);
      }
      missing = true;
      target = dirname(target);
      continue;
    }
    if (!st.isDirectory()) {
      return fail(name, `${what} ${dir} cannot be used: ${target} is not a directory`, `point it at a directory, or move ${target} out of the way`);
    }
    break;
  }

  const writeProblem = missing ? accessProblem(target) : probeProblem(target);
  if (writeProblem) {
    const at = missing ? `${dir} does not exist and cannot be created in ${target}` : `${what} ${dir} is not writable`;
    return fail(
      name,
      `${at}: ${writeProblem}`,
      `give the user Plinth runs as write access to ${missing ? target : dir} (or choose another directory), and check the filesystem is not mounted read-only`,
    );
  }

  const { bavail, blocks, bsize } = statfsSync(target);
  const free = bavail * bsize;
  const total = blocks * bsize;
  const room = `${formatBytes(free)} free of ${formatBytes(total)}`;
  const found = missing ? `${dir} does not exist yet; \`plinth serve\` creates it (${target} is writable), ${room}` : `${dir} is writable, ${room}`;
  const makeRoom = `free space on the filesystem holding ${dir}, or move ${what} to a larger one`;
  if (free < FAIL_FREE_BYTES) return fail(name, `${found}: ${holds} will fail very soon`, makeRoom);
  if (free < WARN_FREE_BYTES || (total > 0 && free / total < WARN_FREE_RATIO)) return warn(name, `${found}: running low`, makeRoom);
  return ok(name, found);
}

/** Writes and removes a probe file; the error code when that fails, else null. */
function probeProblem(dir: string): string | null {
  const probe = join(dir, `.plinth-doctor-${process.pid}-${randomBytes(4).toString("hex")}`);
  try {
    writeFileSync(probe, "probe\n", { flag: "wx", mode: 0o600 });
  } catch (err) {
    return `writing a file there failed: ${errCode(err)}`;
  }
  try {
    unlinkSync(probe);
  } catch (err) {
    return `removing a file there failed: ${errCode(err)}`;
  }
  return null;
}

/** For a directory that does not exist yet, nothing is written: its nearest parent must allow creating it. */
function accessProblem(dir: string): string | null {
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
    return null;
  } catch (err) {
    return `creating a directory there is not allowed: ${errCode(err)}`;
  }
}

export function checkDataDir({ config }: LoadedConfig): CheckResult {
  const holds = config.db.url ? "the secret file, logs and local storage" : "the embedded PostgreSQL (it stops when the disk is full)";
  return checkWritableDir("data_dir", config.dataDir, "the data dir", holds);
}

export async function checkStorage({ config }: LoadedConfig): Promise<CheckResult> {
  if (config.storage.backend === "local") {
    return checkWritableDir("storage", localStorageDir(config), "the storage dir", "uploads");
  }
  const { bucket, endpoint } = config.storage.s3;
  if (!bucket)
    return fail("storage", "storage.backend is s3 but no bucket is set; `plinth serve` refuses to start", "set storage.s3.bucket (PLINTH_STORAGE_S3_BUCKET)");
  const where = `S3 bucket ${bucket}${endpoint ? ` at ${endpoint}` : ""}`;
  try {
    const backend = await createBackend(config);
    // Listing what the sweeper lists proves endpoint, credentials and permission in one request;
    // only the first page is fetched.
    const first = backend.list()[Symbol.asyncIterator]();
    await within(S3_TIMEOUT_MS, "the bucket", first.next());
    await first.return?.();
  } catch (err) {
    return fail(
      "storage",
      `${where} is not usable: ${messageOf(err)}`,
      "check storage.s3.endpoint, bucket, region and the access keys (PLINTH_STORAGE_S3_*), and that the key may list, read and write the bucket",
    );
  }
  return ok("storage", `${where} answers and may be listed with the configured keys`);
}
