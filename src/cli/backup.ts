// `plinth backup [--out FILE] [--gzip] [--no-sync] [--json]`: an online backup of the database, the
// stored files and the configuration into one archive (src/backup/backup.ts does the work). A
// progress bar on stderr when it is a terminal; the result on stdout, as JSON with --json. The
// archive is fsynced before success is reported unless --no-sync (as with pg_basebackup, for an
// archive that is copied elsewhere at once).
import { resolve } from "node:path";
import { backupFileName, takeBackup } from "../backup/backup.ts";
import { failureLine } from "../backup/errors.ts";
import { formatBytes, silentProgress, terminalProgress } from "../backup/progress.ts";
import { CommandError, EXIT, parseFlags, runCommand, usageError, type CommandEnv } from "./command.ts";

const USAGE = "usage: plinth backup [--out FILE] [--gzip] [--no-sync] [--json]";

export async function run(args: string[], env: CommandEnv): Promise<number> {
  return runCommand(env, async () => {
    const { flags, positional } = parseFlags(args, { values: ["out"], booleans: ["gzip", "no-sync", "json", "help"] });
    if (flags.help) {
      env.stdout(`${USAGE}\n`);
      return EXIT.ok;
    }
    if (positional.length > 0) throw usageError(`unexpected argument '${positional[0]}'\n${USAGE}`);
    const gzip = flags.gzip === true;
    const loaded = env.load();
    const out = resolve(env.cwd, typeof flags.out === "string" ? flags.out : backupFileName(gzip));
    const progress = process.stderr.isTTY ? terminalProgress("backup", env.stderr, process.stderr.columns) : silentProgress;
    let result;
    try {
      result = await takeBackup({ loaded, out, gzip, sync: flags["no-sync"] !== true, progress, notice: (line) => env.stderr(`plinth: ${line}\n`) });
    } catch (err) {
      throw new CommandError(`backup failed: ${failureLine(err)}`);
    }
    if (flags.json === true) {
      env.stdout(`${JSON.stringify(result)}\n`);
    } else {
      env.stdout(
        `Backed up to ${result.file}: ${formatBytes(result.bytes)}, ${result.files} files (database: ${result.database}, storage: ${result.storage}) in ${(result.duration_ms / 1000).toFixed(1)} s\n`,
      );
    }
    return EXIT.ok;
  });
}
