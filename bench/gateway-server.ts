// One of the two servers the gateway benchmark compares, run in its own process:
//   bun bench/gateway-server.ts bare    <port>           a bare Bun.serve answering a small JSON
//   bun bench/gateway-server.ts gateway <port> [root]    Plinth's gateway in front of a handler answering the same JSON
// `root` is the source tree whose src/ provides the gateway (default: this checkout); the before/after
// comparison (`npm run bench -- --compare <ref>`) passes a worktree of the older commit.
//
// The gateway is assembled as src/server.ts does it (createGateway with the parsed config, Metrics,
// a JSON logger writing one line per request to stdout — point stdout at a file — and the same
// Bun.serve options), with the routed app replaced by a trivial handler. The rate limiter stays on,
// with buckets large enough never to refuse the benchmark's single client IP.
import { join } from "node:path";
import { BENCH_SECRET, BODY } from "./gateway-common.ts";
import { ROOT } from "./lib.ts";

const HEADERS = { "content-type": "application/json; charset=utf-8" };

function reply(): Response {
  return new Response(BODY, { headers: HEADERS });
}

{
  const [mode, portArg, rootArg] = process.argv.slice(2);
  const port = Number(portArg);
  if ((mode !== "bare" && mode !== "gateway") || !Number.isInteger(port) || port <= 0) {
    process.stderr.write("usage: bun bench/gateway-server.ts bare|gateway <port> [source root]\n");
    process.exit(2);
  }

  let fetchFn: (req: Request, srv: import("bun").Server<unknown>) => Response | Promise<Response>;
  let bodyLimit = 1024 * 1024;
  if (mode === "bare") {
    fetchFn = () => reply();
  } else {
    const src = (file: string) => import(join(rootArg ?? ROOT, "src", file));
    // Typed as this checkout's modules; the older tree's must have the same shape to be compared.
    const [{ configSchema }, { createGateway }, { Metrics }, { createLogger }] = (await Promise.all([
      src("config/schema.ts"),
      src("http/gateway.ts"),
      src("http/metrics.ts"),
      src("log.ts"),
    ])) as [
      typeof import("../src/config/schema.ts"),
      typeof import("../src/http/gateway.ts"),
      typeof import("../src/http/metrics.ts"),
      typeof import("../src/log.ts"),
    ];
    const huge = { capacity: 1_000_000_000, perSecond: 1_000_000_000 };
    const config = configSchema.parse({ rateLimit: { enabled: true, perIp: huge, perUser: huge } });
    bodyLimit = config.http.bodyLimit;
    // createLogger's default writer is process.stdout.write, exactly as `plinth serve` logs.
    const log = createLogger("info");

    // The plain renderer for every area: loading app.ts would pull every service's modules into this
    // process (the bench never renders an error). Trees before issue 12 had no renderers at all.
    const plain = await src("http/renderers.ts").then(
      (m: typeof import("../src/http/renderers.ts")) => m.plainRenderer,
      () => undefined,
    );
    const renderers = plain && { rest: plain, auth: plain, storage: plain, admin: plain, realtime: plain, system: plain };
    const gateway = createGateway({ config, jwtSecret: BENCH_SECRET, log, metrics: new Metrics(), handle: () => reply(), renderers: renderers! });
    fetchFn = (req, srv) => gateway.fetch(req, srv);
  }

  const server = Bun.serve({
    hostname: "127.0.0.1",
    port,
    maxRequestBodySize: Math.max(bodyLimit, 5 * 1024 ** 3), // as src/server.ts
    fetch: fetchFn,
    error: () =>
      new Response(JSON.stringify({ code: "internal_error", message: "Internal server error" }), {
        status: 500,
        headers: { "content-type": "application/json" },
      }),
  });
  process.stderr.write(`ready ${mode} ${server.port}\n`);
  const stop = () => {
    void server.stop(true);
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}
