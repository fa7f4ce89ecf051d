// Interleaved A/B of REST reads: an older tree against the working tree, with a control arm (a second
// server of the older tree) that shows how far two identical servers disagree on this machine.
//   npm run bench -- --compare <git-ref> interleaved    writes it into the Before/after section
//   npx bun bench/ab.ts <git-ref> [--rounds 20] [--seconds 2] [--workload pk|embed] [--connections 16]
// Why besides `npm run bench -- --compare`: on a shared VM the machine's speed moves by a third
// within minutes (the compare section's bare control has ranged 49k–97k req/s in one run), so a few
// long repetitions cannot resolve a 5 % question. Here every round runs each server for a short
// window in rotating order, and the verdict is the median of the per-round ratios (each ratio's two
// halves seconds apart), for throughput and for the server's own CPU per request (/proc). Each
// server runs from source in its tree on its own embedded PostgreSQL with the same two tables.
// Run alone it prints; through bench/run.ts it is part of the comparison section of RESULTS.md.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BUN, ROOT, cpuSeconds, freePort, machineInfo, median, waitFor200 } from "./lib.ts";
import { GOALS, notRun, table, verdict, type BenchContext, type Outcome, type Row } from "./outcome.ts";
import { createRefTree } from "./ref-tree.ts";

export interface AbOptions {
  rounds: number;
  seconds: number;
  connections: number;
  workloads: string[];
}

const PATHS: Record<string, string> = {
  pk: `"/rest/v1/children?id=eq." .. math.random(1, 1000)`,
  embed: `"/rest/v1/parents?select=id,children(id)&id=eq." .. math.random(1, 100)`,
};
const TITLES: Record<string, string> = { pk: "pk read", embed: "embed, random parent + 10 children" };

const SECRET = "bench-ab-secret-bench-ab-secret-0123456789";
const FIXTURE = `create table if not exists parents (id int primary key);
create table if not exists children (id serial primary key, parent_id int references parents(id));
insert into parents select g from generate_series(1, 100) g on conflict do nothing;
insert into children (parent_id) select p from generate_series(1, 100) p, generate_series(1, 10) k
  where not exists (select 1 from children limit 1);
grant select on parents, children to anon, service_role`;

interface Arm {
  name: string;
  port: number;
  proc: ReturnType<typeof Bun.spawn>;
  anon: string;
}

async function startArm(name: string, root: string, scratch: string): Promise<Arm> {
  const port = await freePort();
  const env: Record<string, string | undefined> = {
    ...process.env,
    PLINTH_DATA_DIR: join(scratch, `data-${name}`),
    PLINTH_PORT: String(port),
    PLINTH_JWT_SECRET: SECRET,
    PLINTH_LOG_LEVEL: "warn",
    PLINTH_RATE_LIMIT_ENABLED: "false",
  };
  delete env.PLINTH_DB_URL;
  const proc = Bun.spawn([BUN, "src/main.ts", "serve"], { cwd: root, env, stdout: "ignore", stderr: "pipe" });
  const arm: Arm = { name, port, proc, anon: "" };
  const url = `http://127.0.0.1:${port}`;
  if ((await waitFor200(`${url}/health`, { intervalMs: 100, deadline: performance.now() + 120_000, gaveUp: () => proc.exitCode !== null })) === null) {
    throw new Error(`${name}: serve did not start: ${(await new Response(proc.stderr).text()).slice(-800)}`);
  }
  const keys = JSON.parse(Bun.spawnSync([BUN, "src/main.ts", "keys", "--json"], { cwd: root, env }).stdout.toString()) as {
    anon: string;
    service_role: string;
  };
  arm.anon = keys.anon;
  const res = await fetch(`${url}/admin/v1/sql`, {
    method: "POST",
    headers: { apikey: keys.service_role, authorization: `Bearer ${keys.service_role}`, "content-type": "application/json" },
    body: JSON.stringify({ query: FIXTURE, confirm: true }),
  });
  if (!res.ok) throw new Error(`${name}: fixture: ${res.status} ${await res.text()}`);
  // The schema cache reloads after DDL: wait until the table answers.
  for (let i = 0; i < 100; i++) {
    const r = await fetch(`${url}/rest/v1/children?id=eq.1`, { headers: { apikey: arm.anon } });
    if (r.ok && ((await r.json()) as unknown[]).length === 1) return arm;
    await Bun.sleep(100);
  }
  throw new Error(`${name}: the fixture never became readable`);
}

function wrk(arm: Arm, lua: string, seconds: number, connections: number): { requests: number; rps: number } {
  const out = Bun.spawnSync([
    "wrk",
    "-t1",
    `-c${connections}`,
    `-d${seconds}s`,
    "-s",
    lua,
    "-H",
    `apikey: ${arm.anon}`,
    `http://127.0.0.1:${arm.port}`,
  ]).stdout.toString();
  return { requests: Number(/(\d+) requests in/.exec(out)?.[1] ?? 0), rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0) };
}

const geo = (xs: number[]) => Math.exp(xs.reduce((s, x) => s + Math.log(x), 0) / xs.length);

interface WorkloadResult {
  workload: string;
  rows: Record<string, { rps: number; us: number }>[];
}

/** The comparison: three servers (before, before again as the control, the working tree), every workload, rounds in rotating order. */
export async function interleavedComparison(ctx: BenchContext, refRoot: string, label: string, opts?: Partial<AbOptions>): Promise<Outcome> {
  if (Bun.spawnSync(["which", "wrk"]).exitCode !== 0) return notRun("wrk is missing (apt-get install wrk)", []);
  const o: AbOptions = {
    rounds: ctx.quick ? 3 : Number(process.env.BENCH_AB_ROUNDS ?? 20),
    seconds: ctx.quick ? 1 : 2,
    connections: 16,
    workloads: ["pk", "embed"],
    ...opts,
  };
  const scratch = mkdtempSync(join(tmpdir(), "plinth-bench-ab-"));
  const arms: Arm[] = [];
  try {
    ctx.progress("interleaved: starting three servers");
    arms.push(await startArm("before", refRoot, scratch));
    arms.push(await startArm("control", refRoot, scratch));
    arms.push(await startArm("after", ROOT, scratch));
    const results: WorkloadResult[] = [];
    for (const workload of o.workloads) {
      const lua = join(scratch, `${workload}.lua`);
      writeFileSync(lua, `request = function()\n  return wrk.format(nil, ${PATHS[workload]})\nend\n`);
      const rows: WorkloadResult["rows"] = [];
      for (let r = 0; r < o.rounds; r++) {
        const round: Record<string, { rps: number; us: number }> = {};
        for (let k = 0; k < arms.length; k++) {
          const arm = arms[(r + k) % arms.length]!;
          wrk(arm, lua, 0.5, o.connections);
          const t0 = cpuSeconds([arm.proc.pid]);
          const m = wrk(arm, lua, o.seconds, o.connections);
          round[arm.name] = { rps: m.rps, us: ((cpuSeconds([arm.proc.pid]) - t0) / Math.max(m.requests, 1)) * 1e6 };
        }
        rows.push(round);
        ctx.progress(
          `interleaved: ${workload}, round ${r + 1}/${o.rounds}: ${arms.map((a) => `${a.name} ${Math.round(round[a.name]!.rps)} req/s`).join(" · ")}`,
        );
      }
      results.push({ workload, rows });
    }
    return report(results, o, label);
  } finally {
    for (const arm of arms) {
      arm.proc.kill("SIGTERM");
      await arm.proc.exited;
    }
    rmSync(scratch, { recursive: true, force: true });
  }
}

function report(results: WorkloadResult[], o: AbOptions, label: string): Outcome {
  const summary: Row[] = [];
  const lines: string[] = [];
  const body: string[] = [
    "### REST, interleaved (bench/ab.ts)",
    "",
    `Three servers from source, each on its own embedded PostgreSQL with the same tables: ${label}, ${label} again (the control: how far two identical servers disagree here) and the working tree. Each round runs each server for ${o.seconds} s (after 0.5 s of warm-up) with wrk -t1 -c${o.connections}, in rotating order; ${o.rounds} rounds per workload. The figures are medians of the per-round ratios to the first ${label} server (geometric means in brackets): the two halves of each ratio were measured seconds apart, so the machine's drift cancels out. Server CPU per request: utime + stime of the server process over the window (/proc), no pinning. ${machineInfo().nproc} CPUs.`,
    "",
  ];
  const tableRows: string[][] = [];
  for (const { workload, rows } of results) {
    const ratio = (arm: string, key: "rps" | "us") => rows.map((row) => row[arm]![key] / row.before![key]);
    const after = median(ratio("after", "rps"));
    const control = median(ratio("control", "rps"));
    const cpu = median(ratio("after", "us"));
    summary.push([
      `Before/after, interleaved: REST ${TITLES[workload]} req/s, working tree / ${label}`,
      `${after.toFixed(3)} (control ${control.toFixed(3)}; CPU/request ${cpu.toFixed(3)})`,
      GOALS.notSlower.goal,
      verdict(after >= GOALS.notSlower.limit),
    ]);
    lines.push(`interleaved ${workload}: after/before ${after.toFixed(3)}, control ${control.toFixed(3)}, CPU/request ${cpu.toFixed(3)}`);
    for (const arm of ["control", "after"]) {
      tableRows.push([
        TITLES[workload]!,
        arm === "control" ? `${label} again (control)` : "working tree",
        `${median(ratio(arm, "rps")).toFixed(3)} (${geo(ratio(arm, "rps")).toFixed(3)})`,
        `${median(ratio(arm, "us")).toFixed(3)} (${geo(ratio(arm, "us")).toFixed(3)})`,
        `${Math.round(median(rows.map((r) => r[arm]!.rps)))} vs ${Math.round(median(rows.map((r) => r.before!.rps)))}`,
      ]);
    }
  }
  body.push(table(["workload", "server", "req/s / before", "server CPU per request / before", "median req/s vs before"], tableRows));
  body.push("");
  return { ok: true, summary, body: body.join("\n"), lines, warnings: [] };
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const flag = (name: string) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const ref = args.find((a, i) => !a.startsWith("--") && !args[i - 1]?.startsWith("--"));
  if (!ref) {
    console.error("usage: npx bun bench/ab.ts <git-ref> [--rounds 20] [--seconds 2] [--workload pk|embed] [--connections 16]");
    process.exit(2);
  }
  const workload = flag("workload");
  if (workload && !PATHS[workload]) {
    console.error(`--workload: pk or embed, not ${workload}`);
    process.exit(2);
  }
  const tree = createRefTree(ref);
  try {
    const out = await interleavedComparison({ quick: false, progress: (s) => process.stderr.write(`  ${s}\n`) }, tree.root, `\`${ref}\``, {
      ...(flag("rounds") ? { rounds: Number(flag("rounds")) } : {}),
      ...(flag("seconds") ? { seconds: Number(flag("seconds")) } : {}),
      ...(flag("connections") ? { connections: Number(flag("connections")) } : {}),
      ...(workload ? { workloads: [workload] } : {}),
    });
    process.stdout.write(`${out.ok ? out.lines.join("\n") : `not run: ${out.reason}`}\n\n${out.body}\n`);
  } finally {
    tree.remove();
  }
}
