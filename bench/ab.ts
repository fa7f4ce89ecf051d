// Interleaved A/B of REST reads: an older tree against the working tree, with a control arm (a second
// copy of the older tree) that shows how far two identical servers disagree on this machine.
//   npx bun bench/ab.ts <git-ref> [--rounds 20] [--seconds 2] [--workload pk|embed] [--connections 16]
// Why besides `npm run bench -- --compare`: on a shared VM the machine's speed moves by a third
// within minutes (the compare section's bare control has ranged 49k–97k req/s in one run), so a few
// long repetitions cannot resolve a 5 % question. Here every round runs each server for a short
// window in rotating order, and the verdict is the median of the per-round ratios (each ratio's two
// halves seconds apart), for throughput and for the server's own CPU per request (/proc). Each
// server runs from source in its tree on its own embedded PostgreSQL with the same two tables.
// Prints; does not write RESULTS.md.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BUN, ROOT, freePort, median, waitFor200 } from "./lib.ts";
import { createRefTree, type RefTree } from "./ref-tree.ts";

const args = process.argv.slice(2);
const flag = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : fallback;
};
const ref = args.find((a, i) => !a.startsWith("--") && !args[i - 1]?.startsWith("--"));
if (!ref) {
  console.error("usage: npx bun bench/ab.ts <git-ref> [--rounds 20] [--seconds 2] [--workload pk|embed] [--connections 16]");
  process.exit(2);
}
const ROUNDS = Number(flag("rounds", "20"));
const SECONDS = Number(flag("seconds", "2"));
const CONNECTIONS = Number(flag("connections", "16"));
const WORKLOAD = flag("workload", "pk");
const PATHS: Record<string, string> = {
  pk: `"/rest/v1/children?id=eq." .. math.random(1, 1000)`,
  embed: `"/rest/v1/parents?select=id,children(id)&id=eq." .. math.random(1, 100)`,
};
if (!PATHS[WORKLOAD]) throw new Error(`--workload: pk or embed, not ${WORKLOAD}`);
if (Bun.spawnSync(["which", "wrk"]).exitCode !== 0) throw new Error("wrk is missing (apt-get install wrk)");

const SECRET = "bench-ab-secret-bench-ab-secret-0123456789";
const FIXTURE = `create table if not exists parents (id int primary key);
create table if not exists children (id serial primary key, parent_id int references parents(id));
insert into parents select g from generate_series(1, 100) g on conflict do nothing;
insert into children (parent_id) select p from generate_series(1, 100) p, generate_series(1, 10) k
  where not exists (select 1 from children limit 1);
grant select on parents, children to anon, service_role`;

interface Arm {
  name: string;
  root: string;
  port: number;
  dataDir: string;
  proc: ReturnType<typeof Bun.spawn>;
  anon: string;
}

const scratch = mkdtempSync(join(tmpdir(), "plinth-bench-ab-"));
const lua = join(scratch, "load.lua");
writeFileSync(lua, `request = function()\n  return wrk.format(nil, ${PATHS[WORKLOAD]})\nend\n`);
const trees: RefTree[] = [];
const arms: Arm[] = [];

async function startArm(name: string, root: string): Promise<Arm> {
  const port = await freePort();
  const dataDir = join(scratch, `data-${name}`);
  const env: Record<string, string | undefined> = {
    ...process.env,
    PLINTH_DATA_DIR: dataDir,
    PLINTH_PORT: String(port),
    PLINTH_JWT_SECRET: SECRET,
    PLINTH_LOG_LEVEL: "warn",
    PLINTH_RATE_LIMIT_ENABLED: "false",
  };
  delete env.PLINTH_DB_URL;
  const proc = Bun.spawn([BUN, "src/main.ts", "serve"], { cwd: root, env, stdout: "ignore", stderr: "pipe" });
  const arm: Arm = { name, root, port, dataDir, proc, anon: "" };
  arms.push(arm);
  const url = `http://127.0.0.1:${port}`;
  if ((await waitFor200(`${url}/health`, { intervalMs: 100, deadline: performance.now() + 120_000, gaveUp: () => proc.exitCode !== null })) === null) {
    throw new Error(`${name}: serve did not start: ${(await new Response(proc.stderr).text()).slice(-800)}`);
  }
  const keys = JSON.parse(Bun.spawnSync([BUN, "src/main.ts", "keys", "--json"], { cwd: root, env }).stdout.toString()) as { service_role: string };
  const res = await fetch(`${url}/admin/v1/sql`, {
    method: "POST",
    headers: { apikey: keys.service_role, authorization: `Bearer ${keys.service_role}`, "content-type": "application/json" },
    body: JSON.stringify({ query: FIXTURE, confirm: true }),
  });
  if (!res.ok) throw new Error(`${name}: fixture: ${res.status} ${await res.text()}`);
  // The schema cache reloads after DDL: wait until the table answers.
  arm.anon = (JSON.parse(Bun.spawnSync([BUN, "src/main.ts", "keys", "--json"], { cwd: root, env }).stdout.toString()) as { anon: string }).anon;
  for (let i = 0; i < 100; i++) {
    const r = await fetch(`${url}/rest/v1/children?id=eq.1`, { headers: { apikey: arm.anon } });
    if (r.ok && ((await r.json()) as unknown[]).length === 1) return arm;
    await Bun.sleep(100);
  }
  throw new Error(`${name}: the fixture never became readable`);
}

function cpuTicks(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return Number(f[11]) + Number(f[12]); // utime, stime (fields 14 and 15)
}
const CLK_TCK = Number(Bun.spawnSync(["getconf", "CLK_TCK"]).stdout.toString().trim()) || 100;

function wrk(arm: Arm, seconds: number): { requests: number; rps: number } {
  const out = Bun.spawnSync([
    "wrk",
    "-t1",
    `-c${CONNECTIONS}`,
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

try {
  const before = createRefTree(ref);
  trees.push(before);
  const control = createRefTree(ref);
  trees.push(control);
  console.error(`ab: ${before.commit.slice(0, 10)} (${before.subject.slice(0, 60)}) against the working tree; workload ${WORKLOAD}`);
  const a = await startArm("before", before.root);
  const c = await startArm("control", control.root);
  const w = await startArm("after", ROOT);
  const order = [a, c, w];
  const rows: Record<string, { rps: number; us: number }>[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const round: Record<string, { rps: number; us: number }> = {};
    for (let k = 0; k < order.length; k++) {
      const arm = order[(r + k) % order.length]!;
      wrk(arm, 0.5);
      const t0 = cpuTicks(arm.proc.pid);
      const m = wrk(arm, SECONDS);
      const us = ((cpuTicks(arm.proc.pid) - t0) / CLK_TCK / Math.max(m.requests, 1)) * 1e6;
      round[arm.name] = { rps: m.rps, us };
    }
    rows.push(round);
    console.error(
      `  round ${r + 1}/${ROUNDS}: ${order.map((x) => `${x.name} ${Math.round(round[x.name]!.rps)} req/s ${round[x.name]!.us.toFixed(1)} µs`).join(" · ")}`,
    );
  }
  const ratio = (x: string, key: "rps" | "us") => rows.map((row) => row[x]![key] / row.before![key]);
  console.log(`\n${WORKLOAD}: ${ROUNDS} rounds × ${SECONDS} s per server, wrk -c${CONNECTIONS}; median of per-round ratios to ${ref} (geometric mean)`);
  console.log(`| arm | throughput / before | server CPU per request / before |\n|---|---|---|`);
  for (const x of ["control", "after"]) {
    console.log(
      `| ${x === "control" ? `${ref} again (control)` : "working tree"} | ${median(ratio(x, "rps")).toFixed(3)} (${geo(ratio(x, "rps")).toFixed(3)}) | ${median(ratio(x, "us")).toFixed(3)} (${geo(ratio(x, "us")).toFixed(3)}) |`,
    );
  }
} finally {
  for (const arm of arms) {
    arm.proc.kill("SIGTERM");
    await arm.proc.exited;
  }
  for (const t of trees) t.remove();
  rmSync(scratch, { recursive: true, force: true });
}
