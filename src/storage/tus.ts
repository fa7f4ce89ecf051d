// Resumable uploads, server side of TUS 1.0 (core + creation, creation-with-upload, termination,
// expiration). An upload is assembled in the backend's local staging directory:
//   <staging>/<id>        the bytes received so far (its size is the offset)
//   <staging>/<id>.json   what the upload will become (bucket, name, type, owner, upsert, length)
// When the last byte arrives the file is committed to the backend under a fresh version key and the
// row is written as the caller, exactly like a one-shot upload. Uploads idle for a day are swept.
import { randomUUID } from "node:crypto";
import { open, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Principal } from "../db/pool.ts";
import { versionKey } from "./backends/backend.ts";
import { ownerOf, requireCaller, type StorageContext } from "./context.ts";
import { errors } from "./errors.ts";
import { cacheControlOf, commitRow, parseUserMetadata, prepareWrite, type ObjectWrite } from "./uploads.ts";

export const TUS_VERSION = "1.0.0";
export const TUS_EXTENSIONS = "creation,creation-with-upload,termination,expiration";
export const TUS_EXPIRY_MS = 24 * 3600 * 1000;

interface UploadState {
  bucket: string;
  name: string;
  length: number;
  contentType: string;
  cacheControl: string;
  userMetadata: Record<string, unknown> | null;
  upsert: boolean;
  owner: string | null;
  role: string;
  createdAt: string;
}

const ID = /^[0-9a-f-]{36}$/;

export interface TusCreate {
  uploadLength: string | null;
  uploadMetadata: string | null;
  upsert: boolean;
}

/** TUS Upload-Metadata: comma-separated "key base64value" pairs. */
export function parseUploadMetadata(header: string | null): Map<string, string> {
  const out = new Map<string, string>();
  if (!header) return out;
  for (const pair of header.split(",")) {
    const [key, value] = pair.trim().split(" ");
    if (!key) continue;
    out.set(key, value ? Buffer.from(value, "base64").toString("utf8") : "");
  }
  return out;
}

export function createTus(ctx: StorageContext) {
  const dir = ctx.backend.stagingDir;
  // One PATCH at a time per upload (in this process); a second concurrent one is refused (409).
  const busy = new Set<string>();

  const dataPath = (id: string) => join(dir, id);
  const statePath = (id: string) => join(dir, `${id}.json`);

  async function load(id: string, principal: Principal | null): Promise<{ state: UploadState; offset: number }> {
    if (!ID.test(id)) throw errors.tus(404, "Upload not found");
    let state: UploadState;
    let offset: number;
    try {
      state = JSON.parse(await readFile(statePath(id), "utf8")) as UploadState;
      offset = (await stat(dataPath(id))).size;
    } catch {
      throw errors.tus(404, "Upload not found");
    }
    const caller = requireCaller(principal);
    // Only the creator (or the service role) may see or continue an upload.
    if (caller.role !== "service_role" && (ownerOf(caller) !== state.owner || caller.role !== state.role)) {
      throw errors.tus(404, "Upload not found");
    }
    return { state, offset };
  }

  function writeFor(principal: Principal, state: UploadState): ObjectWrite {
    return {
      principal,
      owner: state.owner,
      bucket: state.bucket,
      name: state.name,
      mode: state.upsert ? "upsert" : "create",
      contentType: state.contentType,
      cacheControl: state.cacheControl,
      userMetadata: state.userMetadata,
      declaredSize: state.length,
    };
  }

  /** POST: creates the upload; returns its id. */
  async function create(principal: Principal | null, req: TusCreate): Promise<{ id: string; state: UploadState }> {
    const caller = requireCaller(principal);
    const length = Number(req.uploadLength);
    if (req.uploadLength === null || !/^\d+$/.test(req.uploadLength) || !Number.isSafeInteger(length)) {
      throw errors.tus(400, "Upload-Length header is required (deferred length is not supported)");
    }
    const meta = parseUploadMetadata(req.uploadMetadata);
    const state: UploadState = {
      bucket: meta.get("bucketName") ?? "",
      name: meta.get("objectName") ?? "",
      length,
      contentType: meta.get("contentType") || "application/octet-stream",
      cacheControl: cacheControlOf(meta.get("cacheControl")),
      userMetadata: parseUserMetadata(meta.get("metadata")),
      upsert: req.upsert,
      owner: ownerOf(caller),
      role: caller.role,
      createdAt: new Date().toISOString(),
    };
    // Every check a one-shot upload makes, before any byte: names, bucket, type, size, policies.
    await prepareWrite(ctx, writeFor(caller, state));
    const id = randomUUID();
    await writeFile(dataPath(id), new Uint8Array(0), { mode: 0o600, flag: "wx" });
    await writeFile(statePath(id), JSON.stringify(state), { mode: 0o600 });
    return { id, state };
  }

  /**
   * PATCH: appends the body at `offset`. Returns the new offset. Bytes received before a broken
   * connection are kept (the client resumes from HEAD's offset). Completes the upload at the end.
   */
  async function append(principal: Principal | null, id: string, offsetHeader: string | null, body: ReadableStream<Uint8Array> | null): Promise<number> {
    const { state, offset } = await load(id, principal);
    const caller = requireCaller(principal);
    if (offsetHeader === null || !/^\d+$/.test(offsetHeader)) throw errors.tus(400, "Upload-Offset header is required");
    if (Number(offsetHeader) !== offset) throw errors.tus(409, `Upload-Offset is ${offset}`);
    if (busy.has(id)) throw errors.tus(409, "Another request is writing to this upload");
    busy.add(id);
    let size = offset;
    try {
      if (body) {
        const fh = await open(dataPath(id), "a");
        try {
          for await (const chunk of body) {
            if (size + chunk.byteLength > state.length) throw errors.tus(413, "The upload is larger than its Upload-Length");
            await fh.write(chunk);
            size += chunk.byteLength;
          }
        } finally {
          await fh.close();
        }
      }
      if (size === state.length) await complete(caller, id, state);
      return size;
    } finally {
      busy.delete(id);
    }
  }

  async function complete(caller: Principal, id: string, state: UploadState): Promise<void> {
    const hasher = new Bun.CryptoHasher("md5");
    for await (const chunk of Bun.file(dataPath(id)).stream()) hasher.update(chunk);
    const version = randomUUID();
    await ctx.backend.commitFile(versionKey(version), dataPath(id), state.contentType);
    await rm(statePath(id), { force: true });
    await commitRow(ctx, writeFor(caller, state), version, { size: state.length, md5: hasher.digest("hex") });
  }

  async function head(principal: Principal | null, id: string): Promise<{ offset: number; length: number; expires: Date }> {
    const { state, offset } = await load(id, principal);
    return { offset, length: state.length, expires: new Date(Date.parse(state.createdAt) + TUS_EXPIRY_MS) };
  }

  async function terminate(principal: Principal | null, id: string): Promise<void> {
    await load(id, principal);
    await rm(dataPath(id), { force: true });
    await rm(statePath(id), { force: true });
  }

  return { create, append, head, terminate };
}

export type Tus = ReturnType<typeof createTus>;
