// `plinth gen types typescript [--schema public,…] [--out FILE]`: the Database type for
// createClient<Database>() (src/typegen/), from the same database `serve` uses. Prints to stdout,
// or writes FILE (atomically: a half-written types file would break the app's build).
import { rename, writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import { openDatabase } from "../db/open.ts";
import { createLogger } from "../log.ts";
import { generateTypeScript, resolveSchemas, TypegenError } from "../typegen/generate.ts";
import { CommandError, EXIT, parseFlags, runCommand, usageError, type CommandEnv } from "./command.ts";

const USAGE = "usage: plinth gen types typescript [--schema public,…] [--out FILE]";

export async function run(args: string[], env: CommandEnv): Promise<number> {
  return runCommand(env, async () => {
    const { flags, positional } = parseFlags(args, { values: ["schema", "out"], booleans: ["help"] });
    if (flags.help) {
      env.stdout(`${USAGE}\n`);
      return EXIT.ok;
    }
    if (positional[0] !== "types" || positional[1] !== "typescript" || positional.length > 2) {
      throw usageError(positional[0] === "types" && positional[1] ? `unknown language '${positional[1]}': only typescript (${USAGE})` : USAGE);
    }
    const { config } = env.load();
    const log = createLogger("warn", (line) => env.stderr(`${line}\n`));
    const opened = await openDatabase(config, log, { poolMax: 2 });
    try {
      const schemas = await resolveSchemas(opened.db.sql, typeof flags.schema === "string" ? flags.schema : undefined, config.rest.schemas);
      const text = await generateTypeScript(opened.db.sql, schemas);
      if (typeof flags.out === "string") {
        const out = resolve(env.cwd, flags.out);
        const tmp = `${out}.${process.pid}.tmp`;
        await writeFile(tmp, text);
        await rename(tmp, out);
        env.stderr(`wrote ${out} (schemas: ${schemas.join(", ")})\n`);
      } else env.stdout(text);
      return EXIT.ok;
    } catch (err) {
      if (err instanceof TypegenError) throw new CommandError(err.message, EXIT.usage);
      throw err;
    } finally {
      await opened.close();
    }
  });
}
