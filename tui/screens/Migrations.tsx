// migrations: the project's user migrations (GET /admin/v1/migrations), what each pending one would
// run with the server's plan (verdict, findings, statements), a approves the selected pending one,
// A applies pending migrations, R reverts the newest applied one — both after a confirmation. A
// server without the migrations API says so.
//
// Apply runs one migration per request ({to: version}, in version order) so the screen can say
// "applying 2 of 5: …". Esc or x, after y, cancels: dropping the request makes the server cancel the
// migration running then and roll it back (src/db/migrations/user.ts); the rest are not started.
// What happened is then read back from the server: its status waits for the migration lock, i.e.
// until the cancelled one has rolled back. In production, when a pending migration lacks its
// approval, everything is sent in one request so the server refuses the whole run, as before.
import { Box, Text, useInput } from "ink";
import { useState } from "react";
import { type AdminClient, errorLine } from "../api/client.ts";
import { Confirm } from "../components/Confirm.tsx";
import { ErrorText, Loading } from "../components/Message.tsx";
import { Table } from "../components/Table.tsx";
import { oneLine, when } from "../lib/format.ts";
import { tone } from "../lib/theme.ts";
import { useHints, useNav } from "../state/nav.tsx";
import { useSession } from "../state/session.tsx";
import { byFilter, useCapture, useList } from "../state/use-list.ts";
import { useLoad } from "../state/use-load.ts";
import type { ScreenProps } from "../shell/screens.ts";

interface MigrationRow {
  version: string;
  name: string;
  applied: boolean;
  applied_at: string | null;
  changed?: boolean;
  missing_file?: boolean;
  has_down_file?: boolean;
}
interface Plan {
  version: string;
  verdict: string;
  needs_approval?: boolean;
  approved: { by: string; at: string } | null;
  /** How many statements the file has. */
  statements?: number;
  findings?: { kind: string; severity: string; message: string; statement?: string }[];
  error?: string | null;
}

export function Migrations({ width, height }: ScreenProps) {
  const { client, can } = useSession();
  const nav = useNav();
  const [confirm, setConfirm] = useState<"apply" | "revert" | null>(null);
  const [open, setOpen] = useState(false);
  const [running, setRunning] = useState<string | null>(null);
  const [run, setRun] = useState<AbortController | null>(null);
  const [askCancel, setAskCancel] = useState(false);
  const status = useLoad(() => client.get<{ migrations: MigrationRow[]; applied: number; pending: number; production?: boolean }>("/migrations"), []);
  const plans = useLoad(() => client.get<{ migrations: Plan[] }>("/migrations/plan"), []);
  const list = byFilter(status.data?.migrations ?? [], nav.filter, (m) => `${m.version} ${m.name}`);
  const { selected } = useList(list.length, height - 3, { active: !confirm && !open, onEnter: () => setOpen(true) });
  // While a run is going, Esc belongs to it (cancel), not to the shell (back).
  useCapture(confirm !== null || open || run !== null);
  const current = list[selected];
  const plan = plans.data?.migrations.find((p) => p.version === current?.version);
  const writable = can("meta:write");
  useHints([
    ...(run ? [{ key: "Esc/x", label: "cancel the run" }] : []),
    { key: "Enter", label: "plan" },
    ...(writable
      ? [
          { key: "a", label: "approve" },
          { key: "A", label: "apply" },
          { key: "R", label: "revert" },
        ]
      : []),
  ]);
  const act = async (what: () => Promise<unknown>, label: string) => {
    setConfirm(null);
    setRunning(label);
    try {
      await what();
      nav.say(`${label}: done`);
    } catch (err) {
      nav.say(errorLine(err), "danger");
    } finally {
      setRunning(null);
      status.reload();
      plans.reload();
    }
  };
  /** Applies (in order) or reverts `todo` one request each, showing progress; Esc/x cancels. */
  const steps = async (kind: "apply" | "revert", todo: MigrationRow[]) => {
    const verb = kind === "apply" ? "applying" : "reverting";
    const ctrl = new AbortController();
    setConfirm(null);
    setRun(ctrl);
    let done = 0;
    try {
      for (const [i, m] of todo.entries()) {
        setRunning(`${verb} ${i + 1} of ${todo.length}: ${m.version} ${m.name}`);
        if (kind === "apply") await client.applyMigration(m.version, ctrl.signal);
        else await client.revertMigration(ctrl.signal);
        done++;
      }
      nav.say(`${kind === "apply" ? "Apply" : "Revert"}: done (${done} migration(s))`);
    } catch (err) {
      if (ctrl.signal.aborted) nav.say(await afterCancel(client, kind, todo, done), "warn");
      else nav.say(`${errorLine(err)}${done ? ` · ${done} of ${todo.length} done before it` : ""}`, "danger");
    } finally {
      setRun(null);
      setAskCancel(false);
      setRunning(null);
      status.reload();
      plans.reload();
    }
  };
  const applyAll = () => {
    const pending = (status.data?.migrations ?? []).filter((m) => !m.applied && !m.missing_file);
    const unapproved = pending.some((m) => {
      const p = plans.data?.migrations.find((x) => x.version === m.version);
      return p?.needs_approval && !p.approved;
    });
    // The server judges approvals over the whole request: one request for all, refused as a whole.
    if (status.data?.production && unapproved) return void act(() => client.applyMigration(pending.at(-1)!.version), "Apply");
    void steps("apply", pending);
  };
  useInput(
    (input, key) => {
      if (open) {
        if (key.escape || key.return || input === "q") setOpen(false);
        return;
      }
      if (run) {
        if (key.escape || input === "x") setAskCancel(true);
        return;
      }
      if (running || !writable) return;
      if (input === "a" && current && !current.applied) void act(() => client.post(`/migrations/${current.version}/approve`, {}), `Approve ${current.version}`);
      else if (input === "A" && status.data?.pending) setConfirm("apply");
      else if (input === "R" && status.data?.applied) setConfirm("revert");
    },
    { isActive: nav.mode === "normal" && (!nav.capturing || open || (run !== null && !askCancel)) },
  );
  if (!status.data) return status.error ? <ErrorText error={status.error} /> : <Loading />;
  if (run && askCancel) {
    return (
      <Confirm
        title={`Cancel the run (${running ?? "…"})?`}
        lines={[
          "The migration running now is cancelled on the server and rolled back: it stays as it was.",
          "The ones not started yet are not started; the ones already done stay done.",
        ]}
        yes="cancel the run"
        no="keep going"
        onYes={() => {
          setAskCancel(false);
          run.abort();
        }}
        onNo={() => setAskCancel(false)}
      />
    );
  }
  if (confirm === "apply") {
    const pending = status.data.migrations.filter((m) => !m.applied);
    return (
      <Confirm
        title={`Apply ${pending.length} pending migration(s)?`}
        lines={pending.slice(0, height - 5).map((m) => {
          const p = plans.data?.migrations.find((x) => x.version === m.version);
          return `${m.version} ${m.name}${p ? ` · ${p.verdict}${p.needs_approval && !p.approved ? " · NOT APPROVED" : ""}` : ""}`;
        })}
        onYes={applyAll}
        onNo={() => setConfirm(null)}
      />
    );
  }
  if (confirm === "revert") {
    const last = [...status.data.migrations].filter((m) => m.applied).at(-1);
    return (
      <Confirm
        title={`Revert ${last ? `${last.version} ${last.name}` : "the newest migration"}?`}
        lines={[
          last?.has_down_file === false ? "It has no down file: the server will refuse." : "Its down migration runs; data it dropped is not coming back.",
        ]}
        onYes={() => last && void steps("revert", [last])}
        onNo={() => setConfirm(null)}
      />
    );
  }
  if (open && current) {
    return (
      <Box flexDirection="column">
        <Text bold>
          {current.version} {current.name} · {current.applied ? `applied ${when(current.applied_at)}` : "pending"}
        </Text>
        {plan ? (
          <>
            <Text>
              verdict <Text bold>{plan.verdict}</Text>
              {plan.needs_approval ? (plan.approved ? ` · approved by ${plan.approved.by}` : " · needs approval") : ""}
            </Text>
            {(plan.findings ?? []).slice(0, Math.max(1, Math.floor((height - 6) / 2))).map((f, i) => (
              <Box key={i} flexDirection="column">
                <Text wrap="truncate" color={f.severity === "high" || f.severity === "danger" ? tone("danger") : tone("warn")}>
                  {oneLine(`${f.severity} ${f.kind}: ${f.message}`)}
                </Text>
                {f.statement ? (
                  <Text wrap="truncate" color={tone("muted")}>
                    {"  "}
                    {oneLine(f.statement)}
                  </Text>
                ) : null}
              </Box>
            ))}
            {!plan.findings?.length ? <Text color={tone("muted")}>{plan.statements ?? 0} statement(s), no findings</Text> : null}
          </>
        ) : (
          <Text color={tone("muted")}>{current.applied ? "Applied: no plan." : plans.error ? errorLine(plans.error) : "No plan from the server."}</Text>
        )}
      </Box>
    );
  }
  return (
    <Box flexDirection="column">
      <Text>
        {status.data.applied} applied · {status.data.pending} pending{status.data.production ? " · production: pending ones need approval" : ""}
        {running ? (
          <Text color={tone("warn")}>
            {" "}
            · {running}…{run ? " (Esc/x cancels)" : ""}
          </Text>
        ) : null}
      </Text>
      <Table
        width={width}
        height={height - 1}
        selected={selected}
        columns={[{ title: "version" }, { title: "name", max: 30 }, { title: "state" }, { title: "plan", max: 24 }]}
        rows={list.map((m) => {
          const p = plans.data?.migrations.find((x) => x.version === m.version);
          return [
            m.version,
            m.name,
            m.applied ? "applied" : m.missing_file ? "missing file" : "pending",
            p ? `${p.verdict}${p.needs_approval && !p.approved ? " (unapproved)" : ""}` : m.changed ? "CHANGED" : "",
          ];
        })}
        rowTone={(i) => (list[i]?.applied ? undefined : tone("warn"))}
        empty="No migrations in the migrations dir."
      />
    </Box>
  );
}

/**
 * What a cancelled run left, as the server tells it now (its status waits for the migration lock,
 * so the cancelled migration has rolled back by the time it answers).
 */
async function afterCancel(client: AdminClient, kind: "apply" | "revert", todo: MigrationRow[], done: number): Promise<string> {
  const stopped = todo[done];
  const notStarted = Math.max(0, todo.length - done - 1);
  if (!stopped) return `Cancelled after the last one: ${done} done`;
  let now: boolean | undefined;
  try {
    const fresh = await client.get<{ migrations: MigrationRow[] }>("/migrations");
    now = fresh.migrations.find((m) => m.version === stopped.version)?.applied;
  } catch {
    now = undefined;
  }
  const name = `${stopped.version} ${stopped.name}`;
  const kept = kind === "apply" ? now === false : now === true;
  const what =
    now === undefined
      ? `${name}: the server cancels it and rolls it back (its state could not be read)`
      : kept
        ? `${name} rolled back on the server, still ${kind === "apply" ? "pending" : "applied"}`
        : `${name} had already finished (${now ? "applied" : "reverted"})`;
  return `Cancelled: ${what}; ${done} done, ${notStarted} not started`;
}
