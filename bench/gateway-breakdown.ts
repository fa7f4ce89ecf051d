// For information, next to benchmark 1: where the gateway's time goes, measured in-process with no
// HTTP in between. Calls gateway.fetch() directly in a loop for a few variants (interleaved rounds,
// median), in its own process:
//   bun bench/gateway-breakdown.ts [iterations [warm-up iterations]] > /tmp/gw.log
// stdout receives the gateway's log lines (point it at a file); the JSON result goes to the file
// named by BENCH_BREAKDOWN_OUT, or to stderr.
import { writeFileSync } from "node:fs";
import { apiKeys } from "../src/lib/jwt.ts";
import { configSchema } from "../src/config/schema.ts";
import { renderers } from "../src/app.ts";
import { createGateway } from "../src/http/gateway.ts";
import { Metrics } from "../src/http/metrics.ts";
import { createLogger, silentLogger } from "../src/log.ts";
import { BENCH_PATH, BENCH_SECRET, BODY } from "./gateway-common.ts";
import { median } from "./lib.ts";

export interface BreakdownRow {
  variant: string;
  usPerRequest: number;
}

const HEADERS = { "content-type": "application/json; charset=utf-8" };
const handle = () => new Response(BODY, { headers: HEADERS });
const key = (await apiKeys(BENCH_SECRET)).anon;
const fakeServer: Pick<import("bun").Server<unknown>, "requestIP"> = {
  requestIP: () => ({ address: "127.0.0.1", family: "IPv4", port: 50000 }),
};
const huge = { capacity: 1_000_000_000, perSecond: 1_000_000_000 };

function gatewayWith(opts: { silent?: boolean; rateLimit?: boolean }) {
  const config = configSchema.parse({ rateLimit: { enabled: opts.rateLimit ?? true, perIp: huge, perUser: huge } });
  const log = opts.silent ? silentLogger : createLogger("info"); // default writer: process.stdout
  return createGateway({ config, jwtSecret: BENCH_SECRET, log, metrics: new Metrics(), renderers, handle });
}

function requestFor(path: string, withKey: boolean): () => Request {
  const u = `http://localhost${path}`;
  return withKey ? () => new Request(u, { headers: { apikey: key } }) : () => new Request(u);
}

async function run(n: number, make: () => Request, fn: (req: Request) => Response | Promise<Response>): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const res = await fn(make());
    if (res.status !== 200) throw new Error(`status ${res.status}`);
    await res.arrayBuffer();
  }
  return ((performance.now() - t0) * 1000) / n;
}

type Variant = { name: string; make: () => Request; fn: (req: Request) => Response | Promise<Response> };
const viaGateway = (g: ReturnType<typeof gatewayWith>) => (r: Request) => g.fetch(r, fakeServer);
const keyed = requestFor(BENCH_PATH, true);
const variants: Variant[] = [
  { name: "handler alone (new Request + Response, no gateway)", make: keyed, fn: handle },
  { name: "gateway as benchmarked (apikey verified, JSON log line to a file)", make: keyed, fn: viaGateway(gatewayWith({})) },
  { name: "gateway, logger silent", make: keyed, fn: viaGateway(gatewayWith({ silent: true })) },
  { name: "gateway, logger silent, rate limit off", make: keyed, fn: viaGateway(gatewayWith({ silent: true, rateLimit: false })) },
  // A path outside the keyed areas: no key is read or verified.
  { name: "gateway, logger silent, no key to verify (/bench)", make: requestFor("/bench", false), fn: viaGateway(gatewayWith({ silent: true })) },
];

const iterations = Number(process.argv[2] ?? 30_000);
const warmup = Number(process.argv[3] ?? 20_000);
const rounds = 5;
for (const v of variants) await run(warmup, v.make, v.fn); // warm-up (JIT)
const samples = variants.map(() => [] as number[]);
// Interleaved rounds, so drift in the machine's load spreads over all variants alike.
for (let r = 0; r < rounds; r++) {
  for (const [i, v] of variants.entries()) samples[i]!.push(await run(iterations, v.make, v.fn));
}
const rows: BreakdownRow[] = variants.map((v, i) => ({ variant: v.name, usPerRequest: median(samples[i]!) }));
const result = JSON.stringify({ iterations, rounds, rows });
const out = process.env.BENCH_BREAKDOWN_OUT;
if (out) writeFileSync(out, result);
else process.stderr.write(result + "\n");
