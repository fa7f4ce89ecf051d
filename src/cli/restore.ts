// `plinth restore FILE [--force] [--json]`: verifies a backup archive, puts it in place of an empty
// (or, with --force, the existing) data dir and starts the restored database once to bring it to a
// consistent state (src/backup/restore.ts does the work).
import { existsSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { failureLine } from "../backup/errors.ts";
import { formatBytes, silentProgress, terminalProgress } from "../backup/progress.ts";
import { restoreBackup } from "../backup/restore.ts";
import { CommandError, EXIT, parseFlags, runCommand, usageError, type CommandEnv } from "./command.ts";

const USAGE = "usage: plinth restore FILE [--force] [--json]";

export async function run(args: string[], env: CommandEnv): Promise<number> {
  return runCommand(env, async () => {
    const { flags, positional } = parseFlags(args, { booleans: ["force", "json", "help"] });
    if (flags.help) {
      env.stdout(`${USAGE}\n`);
      return EXIT.ok;
    }
    if (positional.length !== 1)
      throw usageError(`${positional.length === 0 ? "which backup? name the archive" : `unexpected argument '${positional[1]}'`}\n${USAGE}`);
    const archive = resolve(env.cwd, positional[0]!);
    if (!existsSync(archive) || !statSync(archive).isFile()) throw new CommandError(`${archive}: no such file`);
    const progress = process.stderr.isTTY ? terminalProgress("restore", env.stderr, process.stderr.columns) : silentProgress;
    let result;
    try {
      result = await restoreBackup({
        archive,
        force: flags.force === true,
        cwd: env.cwd,
        configFile: env.configFile,
        progress,
        notice: (line) => env.stderr(`plinth: ${line}\n`),
      });
    } catch (err) {
      throw new CommandError(`restore failed: ${failureLine(err)}`);
    }
    if (flags.json === true) {
      env.stdout(`${JSON.stringify(result)}\n`);
    } else {
      const db = result.consistent_lsn ? `; the database is consistent as of WAL ${result.consistent_lsn}` : "";
      env.stdout(
        `Restored ${result.file} into ${result.data_dir}: ${formatBytes(result.bytes)}, ${result.files} files${db}, in ${(result.duration_ms / 1000).toFixed(1)} s. Start it with \`plinth serve\`.\n`,
      );
    }
    return EXIT.ok;
  });
}
