// Storage test helpers: a server whose object bytes live in a fresh directory under the test data
// dir, supabase-js clients for the service role, anon and users, and a policy fixture.
import { afterAll } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { createClient, type SupabaseClient } from "@supabase/supabase-js";
import type { ConfigInput } from "../../src/config/schema.ts";
import { tokenFor } from "./app.ts";
import { TEST_DATA_DIR } from "./db.ts";
import { startTestServer, type TestServer } from "./server.ts";
import { mkdirSync } from "node:fs";

export interface StorageTestServer extends TestServer {
  storageDir: string;
  admin: SupabaseClient;
  anon: SupabaseClient;
  userClient(sub: string): Promise<SupabaseClient>;
}

const clientOptions = { auth: { persistSession: false, autoRefreshToken: false } } as const;

export async function startStorageServer(overrides: ConfigInput = {}): Promise<StorageTestServer> {
  mkdirSync(TEST_DATA_DIR, { recursive: true });
  const storageDir = await mkdtemp(join(TEST_DATA_DIR, "storage-"));
  const srv = await startTestServer({
    ...overrides,
    dataDir: storageDir,
    storage: { localDir: join(storageDir, "objects"), ...(overrides.storage ?? {}) },
  });
  afterAll(() => rm(storageDir, { recursive: true, force: true }));
  return {
    ...srv,
    storageDir,
    admin: createClient(srv.url, srv.keys.service_role, clientOptions),
    anon: createClient(srv.url, srv.keys.anon, clientOptions),
    userClient: async (sub) =>
      createClient(srv.url, srv.keys.anon, {
        ...clientOptions,
        global: { headers: { Authorization: `Bearer ${await tokenFor({ sub, role: "authenticated" })}` } },
      }),
  };
}

/**
 * The policies Supabase's docs suggest: anyone reads `public-read`; a signed-in user reads and
 * writes only under a folder named after their id in `private`.
 */
export const POLICIES_SQL = `
  create policy "anyone reads public-read" on storage.objects for select using (bucket_id = 'public-read');
  create policy "owner folder select" on storage.objects for select to authenticated
    using (bucket_id = 'private' and (storage.foldername(name))[1] = auth.uid()::text);
  create policy "owner folder insert" on storage.objects for insert to authenticated
    with check (bucket_id = 'private' and (storage.foldername(name))[1] = auth.uid()::text and owner_id = auth.uid()::text);
  create policy "owner folder update" on storage.objects for update to authenticated
    using (bucket_id = 'private' and (storage.foldername(name))[1] = auth.uid()::text);
  create policy "owner folder delete" on storage.objects for delete to authenticated
    using (bucket_id = 'private' and owner_id = auth.uid()::text);
  create policy "no pdf" on storage.objects as restrictive for insert to authenticated
    with check (storage.extension(name) <> 'pdf');
`;

/** One HTTP/1.1 exchange over a raw socket: paths are sent exactly as given (no URL normalisation). */
export async function rawHttp(baseUrl: string, head: string, body: Uint8Array | string = "", opts: { abortAfterMs?: number } = {}): Promise<string> {
  const { hostname, port } = new URL(baseUrl);
  const chunks: Buffer[] = [];
  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = () => {
      if (!settled) {
        settled = true;
        resolve(Buffer.concat(chunks).toString("latin1"));
      }
    };
    Bun.connect({
      hostname,
      port: Number(port),
      socket: {
        open(socket) {
          socket.write(head.replace(/\n/g, "\r\n") + "\r\n");
          if (body.length) socket.write(body);
          socket.flush();
          if (opts.abortAfterMs !== undefined) setTimeout(() => socket.terminate(), opts.abortAfterMs);
        },
        data(_socket, data) {
          chunks.push(Buffer.from(data));
        },
        close: finish,
        error: (_s, err) => (settled ? undefined : reject(err)),
      },
    }).catch(reject);
    setTimeout(finish, opts.abortAfterMs !== undefined ? opts.abortAfterMs + 250 : 5000);
  });
}
