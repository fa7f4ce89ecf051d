// The gateway benchmark's part of RESULTS.md and of the before/after comparison: runs
// bench/gateway.ts (the overhead, with servers and load generator in their own processes) and the
// in-process breakdown, and renders their figures.
import { BODY } from "./gateway-common.ts";
import { QUICK_GATEWAY_OPTIONS, runBreakdown, runGateway, type BreakdownResult, type ServerRun } from "./gateway.ts";
import { fmt } from "./lib.ts";
import { GOALS, goalRow, notRun, table, type BenchContext, type Outcome, type Row } from "./outcome.ts";

type Measured = Extract<Awaited<ReturnType<typeof runGateway>>, { ok: true }>;

const busy = (r: ServerRun) => `${fmt(r.serverBusy * 100, 0)} %`;

export async function gatewayOutcome(ctx: BenchContext): Promise<Outcome> {
  const g = await runGateway(ctx.quick ? QUICK_GATEWAY_OPTIONS : {}, ctx.progress);
  if (!g.ok) return notRun(g.reason, ["gatewayOverheadMs"]);
  ctx.progress("gateway: cost breakdown (in-process)");
  const b = await runBreakdown(ctx.quick);
  const summary: Row[] = [
    goalRow("gatewayOverheadMs", `${fmt(g.overheadMs, 4)} ms`, g.overheadMs < GOALS.gatewayOverheadMs.limit),
    ["Gateway: throughput, gateway vs bare Bun.serve (ratio)", `${fmt(g.rpsGateway, 0)} vs ${fmt(g.rpsBare, 0)} req/s (${fmt(g.ratio, 2)})`, "—", "info"],
    [
      "Gateway: server CPU time per request, gateway vs bare",
      `${fmt(g.cpuUsGateway, 1)} vs ${fmt(g.cpuUsBare, 1)} µs (+${fmt(g.cpuUsGateway - g.cpuUsBare, 1)} µs)`,
      "—",
      "info",
    ],
  ];
  return {
    ok: true,
    summary,
    body: [renderGateway(g), renderBreakdown(b)].join("\n"),
    lines: [
      `gateway ${fmt(g.rpsGateway, 0)} req/s, bare ${fmt(g.rpsBare, 0)} req/s (${g.tool}${g.pinned ? ", pinned" : ""}); overhead ${fmt(g.overheadMs, 4)} ms/request`,
      `server CPU per request: gateway ${fmt(g.cpuUsGateway, 1)} µs, bare ${fmt(g.cpuUsBare, 1)} µs`,
      ...(b.ok ? [] : [`breakdown not run: ${b.reason}`]),
    ],
    warnings: g.warnings,
  };
}

function renderGateway(g: Measured): string {
  const out: string[] = [];
  {
    const o = g.options;
    out.push(
      "Conditions:",
      `- Two servers, each in its own process started with \`bun bench/gateway-server.ts bare|gateway <port>\`: a bare \`Bun.serve\``,
      `  returning a ${BODY.length}-byte JSON, and Plinth's gateway (\`createGateway\` from src/http/gateway.ts, default config with the rate`,
      "  limiter on and buckets too large to trip, `Metrics`, the JSON logger writing one line per request to stdout redirected to",
      "  a file) in front of a handler returning the same JSON, with src/server.ts's `Bun.serve` options.",
      `- Request: \`GET /rest/v1/bench\` with an \`apikey\` header holding the anon key (HS256 JWT), so every request is key-verified;`,
      "  no `Authorization` header (supabase-js sends both, which costs a second verification), no `Origin`.",
      `- Load: ${g.tool}, ${o.connections} keep-alive connections, ${o.warmupSeconds} s warm-up then ${o.seconds} s measured, one request in flight per connection.`,
      g.pinned
        ? "- CPUs: server pinned to CPU 0 and load generator to CPU 1 (`taskset`); the server's event loop is single-threaded."
        : "- CPUs: not pinned; the single-threaded server and the load generator share the machine's CPUs.",
      `- ${o.reps} repetition${o.reps === 1 ? "" : "s"}, a fresh server process each time, the order of the two servers alternating; figures are medians.`,
      `  A repetition in which either server got less than 80 % of a CPU (another process took it, or the client was the limit) is`,
      `  discarded and run again, at most ${o.reps} extra attempts in all; ${g.discarded.length ? `${g.discarded.length} attempt(s) were discarded (see the warnings below)` : "none was needed this time"}.`,
      "- Overhead per request = 1/rps(gateway) − 1/rps(bare). It is a throughput difference measured with the client on the same",
      "  machine: read it together with the server CPU time per request (utime+stime of the server process over the measured",
      "  window, divided by the requests answered), which does not depend on whether the client or the server was the bottleneck.",
      '  "Server busy" is that CPU time over the window\'s wall time: well under 100 % means the server waited (client-bound, or',
      "  the CPU was taken by other processes).",
      "",
      table(
        [
          "Repetition",
          "bare req/s",
          "gateway req/s",
          "ratio",
          "overhead ms/req",
          "server busy bare · gateway",
          "server CPU µs/req bare · gateway",
          "latency p50 bare · gateway",
          "gateway log lines",
        ],
        g.reps
          .map((r, i) => [
            String(i + 1),
            fmt(r.bare.rps, 0),
            fmt(r.gateway.rps, 0),
            fmt(r.gateway.rps / r.bare.rps, 2),
            fmt((1 / r.gateway.rps - 1 / r.bare.rps) * 1000, 4),
            `${busy(r.bare)} · ${busy(r.gateway)}`,
            `${fmt(r.bare.cpuUsPerRequest, 1)} · ${fmt(r.gateway.cpuUsPerRequest, 1)}`,
            `${fmt(r.bare.latencyMs.p50, 2)} · ${fmt(r.gateway.latencyMs.p50, 2)} ms`,
            `${r.logLines.toLocaleString("en-US")} (${fmt(r.logBytes / Math.max(1, r.logLines), 0)} B each)`,
          ])
          .concat([
            [
              "**median**",
              `**${fmt(g.rpsBare, 0)}**`,
              `**${fmt(g.rpsGateway, 0)}**`,
              `**${fmt(g.ratio, 2)}**`,
              `**${fmt(g.overheadMs, 4)}**`,
              "",
              `**${fmt(g.cpuUsBare, 1)} · ${fmt(g.cpuUsGateway, 1)}**`,
              "",
              "",
            ],
          ]),
      ),
      "",
      `Median of the per-repetition overheads: ${fmt(g.overheadMsPaired, 4)} ms. Non-200 responses and socket errors: ${g.reps.every((r) => r.bare.non200 + r.bare.errors + r.gateway.non200 + r.gateway.errors === 0) ? "none" : "see warnings"}.`,
      "Log lines include the warm-up and the pre-load checks (a valid key answered 200; a foreign-signed key and a missing key answered 401).",
      "",
    );
    if (g.warnings.length) out.push(...g.warnings.map((w) => `- warning: ${w}`), "");
  }
  return out.join("\n");
}

function renderBreakdown(b: BreakdownResult): string {
  const out = ["### Where the gateway's time goes (in-process, for information)", ""];
  if (!b.ok) {
    out.push(`Not run: ${b.reason}`, "");
  } else {
    out.push(
      `\`bench/gateway-breakdown.ts\` calls \`gateway.fetch(new Request(…))\` directly, without HTTP, ${b.iterations.toLocaleString("en-US")} calls per`,
      `variant and round, ${b.rounds} interleaved rounds, median${b.pinned ? ", pinned to CPU 0" : ""}. Differences between rows are the cost of the part removed.`,
      "",
      table(
        ["Variant", "µs per request"],
        b.rows.map((r) => [r.variant, fmt(r.usPerRequest, 2)]),
      ),
      "",
    );
  }
  return out.join("\n");
}

/**
 * Before/after: this checkout's gateway against `refRoot`'s, both in every repetition (with the bare
 * server as the control for the machine's drift). `refLabel` names the older tree in the text.
 */
export async function gatewayComparison(ctx: BenchContext, refRoot: string, refLabel: string): Promise<Outcome> {
  const g = await runGateway({ ...(ctx.quick ? QUICK_GATEWAY_OPTIONS : {}), refRoot }, ctx.progress);
  if (!g.ok) return notRun(g.reason, []);
  const ref = g.ref!;
  const speed = g.rpsGateway / ref.rps;
  const o = g.options;
  const body = [
    "### Gateway",
    "",
    `Conditions as in the gateway section (${g.tool}, ${o.connections} connections, ${o.warmupSeconds} s warm-up, ${o.seconds} s measured${g.pinned ? ", server on CPU 0 and load on CPU 1" : ""}),`,
    `and three servers in every repetition (${o.reps} in all): bare, the gateway of ${refLabel} and the gateway of the working tree, in alternating order.`,
    "The bare server is the same code on both sides: it shows how much the machine drifted.",
    "",
    table(
      ["", "before", "after", "after / before"],
      [
        ["gateway req/s (median)", fmt(ref.rps, 0), fmt(g.rpsGateway, 0), `**${fmt(speed, 3)}**`],
        ["overhead ms/request, 1/rps(gateway) − 1/rps(bare)", fmt(ref.overheadMs, 4), fmt(g.overheadMs, 4), fmt(g.overheadMs / ref.overheadMs, 2)],
        ["server CPU µs/request", fmt(ref.cpuUs, 1), fmt(g.cpuUsGateway, 1), fmt(g.cpuUsGateway / ref.cpuUs, 2)],
        ["bare Bun.serve req/s (control)", fmt(g.rpsBare, 0), fmt(g.rpsBare, 0), "—"],
      ],
    ),
    "",
    table(
      ["Repetition", "bare req/s", "before req/s", "after req/s", "after / before"],
      g.reps.map((r, i) => [
        String(i + 1),
        fmt(r.bare.rps, 0),
        fmt(r["gateway-ref"]!.rps, 0),
        fmt(r.gateway.rps, 0),
        fmt(r.gateway.rps / r["gateway-ref"]!.rps, 3),
      ]),
    ),
    "",
    ...g.warnings.map((w) => `- warning: ${w}`),
  ].join("\n");
  return {
    ok: true,
    summary: [
      goalRow(
        "notSlower",
        `${fmt(g.rpsGateway, 0)} vs ${fmt(ref.rps, 0)} req/s (${fmt(speed, 3)})`,
        speed >= GOALS.notSlower.limit,
        `Before/after: gateway req/s, working tree / ${refLabel}`,
      ),
    ],
    body,
    lines: [`gateway: before ${fmt(ref.rps, 0)} req/s, after ${fmt(g.rpsGateway, 0)} req/s (${fmt(speed, 3)}), bare ${fmt(g.rpsBare, 0)} req/s`],
    warnings: g.warnings,
  };
}
