// A small HTTP/1.1 load generator in Bun, used when wrk is not installed. Run in its own process:
//   bun bench/loadgen.ts '<json options>'
// options: { url, connections, seconds, warmupSeconds, headers }
// It opens `connections` keep-alive TCP connections (Bun.connect) and keeps one GET in flight on
// each, like wrk does; responses are read by their Content-Length. Responses completed after the
// warm-up are counted; one JSON result line is printed. Raw sockets rather than fetch(): Bun's fetch
// costs the client several times more CPU per request than the servers under test, and on a 2-core
// machine the client would then be what is measured.
import type { Socket } from "bun";

export interface LoadOptions {
  url: string;
  connections: number;
  seconds: number;
  warmupSeconds: number;
  headers: Record<string, string>;
}

export interface LoadResult {
  tool: string;
  requests: number;
  seconds: number;
  rps: number;
  /** Responses other than 200. */
  non200: number;
  /** Connection errors, unparseable responses, requests still unanswered 5 s after the end. */
  errors: number;
  latencyMs: { p50: number; p99: number };
}

interface Conn {
  buf: Buffer;
  sentAt: number;
}

const HEADER_END = Buffer.from("\r\n\r\n");

async function run(o: LoadOptions): Promise<LoadResult> {
  const u = new URL(o.url);
  const port = Number(u.port || 80);
  const lines = [`GET ${u.pathname}${u.search} HTTP/1.1`, `Host: ${u.host}`, "Connection: keep-alive"];
  for (const [k, v] of Object.entries(o.headers)) lines.push(`${k}: ${v}`);
  const request = Buffer.from(lines.join("\r\n") + "\r\n\r\n");

  const t0 = performance.now();
  const measureFrom = t0 + o.warmupSeconds * 1000;
  const end = measureFrom + o.seconds * 1000;
  let requests = 0;
  let non200 = 0;
  let errors = 0;
  const samples: number[] = []; // every 16th latency, bounded
  let n = 0;
  let open = 0;
  let allClosed!: () => void;
  const closed = new Promise<void>((r) => (allClosed = r));

  const send = (s: Socket<Conn>) => {
    s.data.sentAt = performance.now();
    s.write(request);
  };
  /** Consumes complete responses from the buffer; returns false on a protocol error. */
  const consume = (s: Socket<Conn>): boolean => {
    for (;;) {
      const buf = s.data.buf;
      const he = buf.indexOf(HEADER_END);
      if (he < 0) return true;
      const head = buf.subarray(0, he).toString("latin1");
      const m = /content-length:\s*(\d+)/i.exec(head);
      if (!m) return false;
      const total = he + 4 + Number(m[1]);
      if (buf.length < total) return true;
      const status = Number(head.slice(9, 12));
      s.data.buf = buf.subarray(total);
      const done = performance.now();
      if (s.data.sentAt >= measureFrom && done <= end) {
        requests++;
        if (status !== 200) non200++;
        if ((n++ & 15) === 0 && samples.length < 200_000) samples.push(done - s.data.sentAt);
      }
      if (done >= end) {
        s.end();
        return true;
      }
      send(s);
    }
  };

  const finish = () => {
    if (--open === 0) allClosed();
  };
  for (let i = 0; i < o.connections; i++) {
    open++;
    await Bun.connect<Conn>({
      hostname: u.hostname,
      port,
      data: { buf: Buffer.alloc(0), sentAt: 0 },
      socket: {
        open: (s) => send(s),
        data: (s, chunk) => {
          s.data.buf = s.data.buf.length ? Buffer.concat([s.data.buf, chunk]) : Buffer.from(chunk);
          if (!consume(s)) {
            errors++;
            s.end();
          }
        },
        close: () => finish(),
        error: () => {
          errors++;
        },
        connectError: () => {
          errors++;
          finish();
        },
      },
    }).catch(() => {
      errors++;
      finish();
    });
  }
  // Requests in flight at the end are answered within milliseconds; don't wait for a stuck one.
  const timer = setTimeout(() => allClosed(), Math.max(0, end - performance.now()) + 5_000);
  await closed;
  clearTimeout(timer);
  samples.sort((a, b) => a - b);
  const pct = (p: number) => samples[Math.min(samples.length - 1, Math.floor(p * samples.length))] ?? NaN;
  return {
    tool: `bench/loadgen.ts (Bun ${Bun.version}, raw keep-alive sockets)`,
    requests,
    seconds: o.seconds,
    rps: requests / o.seconds,
    non200,
    errors,
    latencyMs: { p50: pct(0.5), p99: pct(0.99) },
  };
}

if (import.meta.main) {
  const opts = JSON.parse(process.argv[2] ?? "{}") as LoadOptions;
  if (!opts.url || !(opts.connections > 0) || !(opts.seconds > 0)) {
    process.stderr.write('usage: bun bench/loadgen.ts \'{"url":…,"connections":32,"seconds":5,"warmupSeconds":1,"headers":{}}\'\n');
    process.exit(2);
  }
  process.stdout.write(JSON.stringify(await run(opts)) + "\n");
  process.exit(0);
}
