// Attack suite, HTTP layer: what a client with no key (or only the anon key) can do to the server
// itself — hold its memory with a body, or make it fail with a request the grammar accepts.
import { describe, expect, test } from "bun:test";
import postgres from "postgres";
import { waitFor } from "./support/rest.ts";
import { startTestServer } from "./support/server.ts";

const { url, keys, database } = await startTestServer({ http: { bodyLimit: 1024 * 1024 } });

/** A chunked body of `total` bytes, produced lazily so the client itself holds almost nothing. */
function chunkedBody(total: number, chunk = 1024 * 1024): ReadableStream<Uint8Array> {
  const block = new Uint8Array(chunk).fill(0x61);
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent >= total) return controller.close();
      sent += chunk;
      controller.enqueue(block);
    },
  });
}

describe("chunked bodies (no Content-Length) are held to the body limit", () => {
  test("300 MiB chunked to /auth/v1/verify with no API key: 413, and the server does not buffer it", async () => {
    Bun.gc(true);
    const before = process.memoryUsage.rss();
    let status = 0;
    let body: { error_code?: string; code?: string } = {};
    try {
      const res = await fetch(`${url}/auth/v1/verify`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: chunkedBody(300 * 1024 * 1024),
      });
      status = res.status;
      body = (await res.json()) as typeof body;
    } catch {
      // The server may close the connection while the client is still sending: that is a refusal too.
      status = 413;
    }
    Bun.gc(true);
    const grown = process.memoryUsage.rss() - before;
    expect(status).toBe(413);
    if (body.error_code ?? body.code) expect(body.error_code ?? body.code).toBe("payload_too_large");
    expect(grown).toBeLessThan(64 * 1024 * 1024);
  });

  test("a small chunked body still reaches the service intact", async () => {
    const json = JSON.stringify({ email: "nobody@example.com", password: "correct horse battery" });
    const res = await fetch(`${url}/auth/v1/token?grant_type=password`, {
      method: "POST",
      headers: { "content-type": "application/json", apikey: keys.anon },
      body: new ReadableStream({
        start(c) {
          c.enqueue(new TextEncoder().encode(json.slice(0, 10)));
          c.enqueue(new TextEncoder().encode(json.slice(10)));
          c.close();
        },
      }),
    });
    // The body was parsed: the answer is about the credentials, not about the body.
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error_code: string }).error_code).toBe("invalid_credentials");
  });

  test("chunked just over the limit to /rest/v1 is 413 in PostgREST's shape", async () => {
    const res = await fetch(`${url}/rest/v1/anything`, {
      method: "POST",
      headers: { "content-type": "application/json", apikey: keys.anon },
      body: chunkedBody(1024 * 1024 + 64 * 1024, 64 * 1024),
    });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { code: string }).code).toBe("payload_too_large");
  });
});

describe("requests past PostgreSQL's program limits", () => {
  test("select= with 5,000 columns answers 400 with a code, not 500", async () => {
    const owner = postgres(database.url, { max: 1, onnotice: () => {} });
    await owner.unsafe(`create table public.wide (id int primary key, note text);
      grant select on public.wide to anon; insert into public.wide values (1, 'x'); notify pgrst, 'reload schema'`);
    await owner.end();
    const get = (q: string) => fetch(`${url}/rest/v1/wide?${q}`, { headers: { apikey: keys.anon } });
    await waitFor(async () => (await get("select=id")).status === 200);
    const res = await get(`select=${Array(5000).fill("id").join(",")}`);
    expect(res.status).toBe(400);
    const body = (await res.json()) as { code: string; message: string };
    expect(body.code).toBe("54011");
    expect(body.message).toBe("target lists can have at most 1664 entries");
  });
});
