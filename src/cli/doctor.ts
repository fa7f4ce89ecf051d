// `plinth doctor [--json]`: checks a deployment and says what to fix. Exit 0 when nothing failed
// (warnings allowed), 1 when a check failed, 2 on wrong usage. What is checked lives in src/doctor/.
import { failedChecks, renderJson, renderText } from "../doctor/report.ts";
import { runChecks } from "../doctor/run.ts";
import { CommandError, EXIT, parseFlags, runCommand, type CommandEnv } from "./command.ts";

const USAGE = "usage: plinth doctor [--json]";

export async function run(args: string[], env: CommandEnv): Promise<number> {
  return runCommand(env, async () => {
    const { flags, positional } = parseFlags(args, { booleans: ["json", "help"] });
    if (flags.help) {
      env.stdout(`${USAGE}\n`);
      return EXIT.ok;
    }
    if (positional.length > 0) throw new CommandError(`unexpected argument '${positional[0]}' (${USAGE})`, EXIT.usage);

    const checks = await runChecks(() => env.load());
    env.stdout(flags.json === true ? renderJson(checks) : renderText(checks, { colour: colourWanted() }));
    const failed = failedChecks(checks);
    if (failed.length === 0) return EXIT.ok;
    env.stderr(`plinth: doctor: ${failed.length} check(s) failed: ${failed.map((c) => c.name).join(", ")}\n`);
    return EXIT.failed;
  });
}

/** Colours only for a person at a terminal, and never with NO_COLOR (no-color.org) or TERM=dumb. */
function colourWanted(): boolean {
  return process.stdout.isTTY === true && !process.env.NO_COLOR && process.env.TERM !== "dumb";
}
