// `plinth emergency-access`: not built yet (issue 13 is in progress); answers as before: usage error, exit 2.
import { EXIT, type CommandEnv } from "./command.ts";

export async function run(_args: string[], env: CommandEnv): Promise<number> {
  env.stderr("plinth: 'emergency-access' is not part of this build yet\n");
  return EXIT.usage;
}
