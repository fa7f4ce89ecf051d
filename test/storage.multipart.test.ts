// The streaming multipart reader on bodies split at every awkward place (pure, no server).
import { expect, test } from "bun:test";
import { multipartBoundary, readMultipart } from "../src/lib/multipart.ts";

async function encode(form: FormData): Promise<{ bytes: Uint8Array; boundary: string }> {
  const req = new Request("http://x/", { method: "POST", body: form });
  // Read the header first: Bun's Request drops its generated content-type once the body is read.
  const boundary = multipartBoundary(req.headers.get("content-type"))!;
  return { bytes: new Uint8Array(await req.arrayBuffer()), boundary };
}

function chunked(bytes: Uint8Array, size: number): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream({
    pull(c) {
      if (i >= bytes.length) return c.close();
      c.enqueue(bytes.slice(i, i + size));
      i += size;
    },
  });
}

test("fields then a file, for every chunk size from 1 byte up", async () => {
  const file = new Uint8Array(3000).map((_, i) => (i * 13) % 256);
  // Bytes that look like the start of a delimiter inside the file must pass through.
  file.set(new TextEncoder().encode("\r\n--"), 1000);
  const form = new FormData();
  form.append("cacheControl", "60");
  form.append("metadata", JSON.stringify({ a: "é" }));
  form.append("", new Blob([file], { type: "image/png" }), "x.png");
  const { bytes, boundary } = await encode(form);
  for (const size of [1, 2, 3, 7, 64, 1000, 1 << 20]) {
    const fields = new Map<string, string>();
    const part = await readMultipart(chunked(bytes, size), boundary, (f) => fields.set(f.name, f.value));
    expect(part?.contentType).toBe("image/png");
    expect(part?.filename).toBe("x.png");
    const out: Uint8Array[] = [];
    for await (const c of part!.body) out.push(c);
    expect(Buffer.compare(Buffer.concat(out), Buffer.from(file))).toBe(0);
    expect(Object.fromEntries(fields)).toEqual({ cacheControl: "60", metadata: '{"a":"é"}' });
  }
});

test("a body cut short is an error, not a short file", async () => {
  const form = new FormData();
  form.append("", new Blob([new Uint8Array(500)]), "f");
  const { bytes, boundary } = await encode(form);
  const part = await readMultipart(chunked(bytes.slice(0, 400), 50), boundary, () => {});
  await expect(
    (async () => {
      for await (const _ of part!.body) {
        /* drain */
      }
    })(),
  ).rejects.toThrow("unexpected end of multipart body");
});
