// backups: the archives the server keeps in its data dir's backups/ directory (name, size, date)
// and the backup it is taking, live. b starts a backup (g: gzipped) after a y; while it runs the
// screen polls its progress (phase, bytes, a bar) and x or Esc cancels it after a y (the server
// removes the partial archive and ends PostgreSQL's backup session); d deletes the selected archive
// after a y. Needs backups:manage (system_admin): an archive holds every secret of the deployment.
// The backup belongs to the server, not to this screen: leaving or quitting does not stop it, and
// coming back shows it again.
import { Box, Text, useInput } from "ink";
import { useEffect, useState } from "react";
import { errorLine } from "../api/client.ts";
import type { BackupJob } from "../api/types.ts";
import { Confirm } from "../components/Confirm.tsx";
import { ErrorText, Loading } from "../components/Message.tsx";
import { Table } from "../components/Table.tsx";
import { bytes, oneLine, when } from "../lib/format.ts";
import { tone } from "../lib/theme.ts";
import { useHints, useNav } from "../state/nav.tsx";
import { useSession } from "../state/session.tsx";
import { byFilter, useCapture, useList } from "../state/use-list.ts";
import { useLoad } from "../state/use-load.ts";
import type { ScreenProps } from "../shell/screens.ts";

/** How often a running backup's progress is asked for. */
const POLL_MS = 300;

type Ask = { kind: "start"; gzip: boolean } | { kind: "cancel"; file: string } | { kind: "delete"; name: string } | null;

export function Backups({ width, height }: ScreenProps) {
  const { client } = useSession();
  const nav = useNav();
  const [ask, setAsk] = useState<Ask>(null);
  const [job, setJob] = useState<BackupJob | null>(null);
  const [busy, setBusy] = useState(false);
  const list = useLoad(() => client.backups(), []);
  const archives = byFilter(list.data?.backups ?? [], nav.filter, (a) => a.name);
  const running = job?.state === "running";
  const { selected } = useList(archives.length, height - 4, { active: !ask });
  useCapture(ask !== null);
  useHints([
    { key: "b", label: "backup" },
    { key: "g", label: "backup (gzip)" },
    ...(running ? [{ key: "x", label: "cancel backup" }] : []),
    { key: "d", label: "delete" },
    { key: "r", label: "refresh" },
  ]);

  // A backup already running when the screen opens (started elsewhere, or before) is followed too.
  const serverCurrent = list.data?.current ?? null;
  useEffect(() => {
    if (serverCurrent && serverCurrent.id !== job?.id) setJob(serverCurrent);
  }, [serverCurrent, job?.id]);

  // Follow the running job until it ends; then say how, and show the list as it is now.
  const jobId = job?.id;
  // biome-ignore lint/correctness/useExhaustiveDependencies: polling restarts per job, not per answer.
  useEffect(() => {
    if (!running) return;
    const ctrl = new AbortController();
    let timer: ReturnType<typeof setTimeout> | null = null;
    const tick = async () => {
      try {
        const j = await client.backupProgress(ctrl.signal);
        if (ctrl.signal.aborted) return;
        setJob(j);
        if (j.state !== "running") {
          announce(j);
          list.reload();
          return;
        }
      } catch (err) {
        if (ctrl.signal.aborted) return;
        nav.say(errorLine(err), "danger");
      }
      timer = setTimeout(tick, POLL_MS);
    };
    timer = setTimeout(tick, POLL_MS);
    return () => {
      ctrl.abort();
      if (timer) clearTimeout(timer);
    };
  }, [jobId, running]);

  const announce = (j: BackupJob) => {
    if (j.state === "done") nav.say(`Backup ${j.file}: done, ${bytes(j.size)}`);
    else if (j.state === "cancelled") nav.say(`Backup ${j.file}: cancelled`, "warn");
    else if (j.state === "failed") nav.say(`Backup ${j.file} failed: ${j.error ? `${j.error.message} (${j.error.code})` : "no reason given"}`, "danger");
  };

  const act = async (what: () => Promise<void>) => {
    setAsk(null);
    setBusy(true);
    try {
      await what();
    } catch (err) {
      nav.say(errorLine(err), "danger");
    } finally {
      setBusy(false);
    }
  };

  useInput(
    (input, key) => {
      if (busy) return;
      if (input === "r") return list.reload();
      if ((input === "b" || input === "g") && !running) return setAsk({ kind: "start", gzip: input === "g" });
      if ((input === "b" || input === "g") && running) return nav.say("A backup is running: wait for it, or x to cancel it", "warn");
      if ((input === "x" || (key.escape && !nav.filter)) && running && job) return setAsk({ kind: "cancel", file: job.file });
      const a = archives[selected];
      if (input === "d" && a) setAsk({ kind: "delete", name: a.name });
    },
    { isActive: nav.mode === "normal" && !nav.capturing && !ask },
  );

  if (ask?.kind === "start") {
    return (
      <Confirm
        title={`Start a backup${ask.gzip ? " (gzipped)" : ""}?`}
        lines={[
          "The server archives its database, stored files and configuration",
          "into backups/ in its data dir, while it keeps serving.",
          "The archive holds every secret of the deployment: keep copies safe.",
        ]}
        onYes={() =>
          void act(async () => {
            const j = await client.startBackup({ gzip: ask.gzip });
            setJob(j);
            nav.say(`Backup ${j.file} started`);
          })
        }
        onNo={() => setAsk(null)}
      />
    );
  }
  if (ask?.kind === "cancel") {
    return (
      <Confirm
        title={`Cancel the backup ${ask.file}?`}
        lines={["It stops at once; the partial archive is removed and nothing is kept."]}
        onYes={() =>
          void act(async () => {
            const j = await client.cancelBackup();
            setJob(j);
            announce(j);
            list.reload();
          })
        }
        onNo={() => setAsk(null)}
      />
    );
  }
  if (ask?.kind === "delete") {
    return (
      <Confirm
        title={`Delete the backup ${ask.name}?`}
        lines={["The archive is removed from the server; this cannot be undone."]}
        onYes={() =>
          void act(async () => {
            try {
              await client.deleteBackup(ask.name);
              nav.say(`Deleted ${ask.name}`);
            } finally {
              list.reload(); // gone either way when the server says it is not there
            }
          })
        }
        onNo={() => setAsk(null)}
      />
    );
  }
  if (!list.data) return list.error ? <ErrorText error={list.error} /> : <Loading />;
  const panel = job ? <JobPanel job={job} width={width} /> : null;
  return (
    <Box flexDirection="column">
      <Text>
        {list.data.backups.length} archive(s) in the server's backups directory
        {busy ? <Text color={tone("muted")}> · working…</Text> : null}
      </Text>
      {panel}
      <Table
        width={width}
        height={height - (panel ? 3 : 1)}
        selected={selected}
        columns={[{ title: "name", max: 44 }, { title: "size", align: "right" }, { title: "created" }]}
        rows={archives.map((a) => [a.name, bytes(a.size), when(a.created_at)])}
        empty="No backups yet: b takes one."
      />
    </Box>
  );
}

/** The job: its file and state on one line, a bar with the bytes (or how it ended) on the next. */
function JobPanel({ job, width }: { job: BackupJob; width: number }) {
  const share = job.bytes_total > 0 ? Math.min(job.bytes_done / job.bytes_total, 1) : 0;
  const pct = Math.floor(share * 100);
  const barWidth = Math.max(10, Math.min(40, width - 40));
  const filled = Math.round(share * barWidth);
  const stateTone = job.state === "done" ? tone("ok") : job.state === "running" ? tone("warn") : tone("danger");
  return (
    <Box flexDirection="column">
      <Text wrap="truncate-end">
        Backup {oneLine(job.file)} · <Text color={stateTone}>{job.state}</Text>
        {job.state === "running" ? ` · ${job.phase}` : ""}
      </Text>
      {job.state === "running" ? (
        <Text wrap="truncate-end">
          [{"#".repeat(filled)}
          {"-".repeat(barWidth - filled)}] {pct} % · {bytes(job.bytes_done)} / {bytes(job.bytes_total)}
        </Text>
      ) : job.state === "done" ? (
        <Text wrap="truncate-end">
          {bytes(job.size)} in {durationOf(job)}
        </Text>
      ) : (
        <Text wrap="truncate-end" color={tone("danger")}>
          {job.error ? oneLine(`${job.error.message} (${job.error.code})`) : job.state}
        </Text>
      )}
    </Box>
  );
}

function durationOf(job: BackupJob): string {
  const ms = job.finished_at ? Date.parse(job.finished_at) - Date.parse(job.started_at) : 0;
  return `${(Math.max(0, ms) / 1000).toFixed(1)} s`;
}
