// The two renderings of a doctor run: text for people (one line per check, the fix indented below
// when it is not ok) and JSON for scripts ({"checks": [{name, status, message, fix}]}, nothing else).
import type { CheckResult, CheckStatus } from "./check.ts";

const MARK: Record<CheckStatus, string> = { ok: "ok", warn: "warn", fail: "FAIL" };
const COLOUR: Record<CheckStatus, string> = { ok: "\x1b[32m", warn: "\x1b[33m", fail: "\x1b[31m" };
const RESET = "\x1b[0m";

export function renderJson(checks: CheckResult[]): string {
  // Built key by key so the wire shape stays exactly these four keys, whatever a check carries.
  const out = checks.map(({ name, status, message, fix }) => ({ name, status, message, fix }));
  return `${JSON.stringify({ checks: out }, null, 2)}\n`;
}

export function renderText(checks: CheckResult[], opts: { colour: boolean }): string {
  const nameWidth = Math.max(...checks.map((c) => c.name.length));
  const indent = " ".repeat(6 + nameWidth + 2);
  const paint = (status: CheckStatus, text: string) => (opts.colour ? `${COLOUR[status]}${text}${RESET}` : text);
  const lines: string[] = [];
  for (const c of checks) {
    const [first, ...rest] = c.message.split("\n");
    lines.push(`${paint(c.status, MARK[c.status].padEnd(4))}  ${c.name.padEnd(nameWidth)}  ${first}`);
    for (const line of rest) lines.push(`${indent}${line}`);
    if (c.status !== "ok" && c.fix) {
      const [fixFirst, ...fixRest] = c.fix.split("\n");
      lines.push(`${indent}fix: ${fixFirst}`);
      for (const line of fixRest) lines.push(`${indent}     ${line}`);
    }
  }
  const count = (s: CheckStatus) => checks.filter((c) => c.status === s).length;
  const warnings = count("warn");
  lines.push("", `${count("ok")} ok, ${warnings} warning${warnings === 1 ? "" : "s"}, ${count("fail")} failed`);
  return `${lines.join("\n")}\n`;
}

export const failedChecks = (checks: CheckResult[]) => checks.filter((c) => c.status === "fail");
