// `plinth plugins list [--json]`: the plugins the server would load (directory, name, version,
// dependencies, hooks, routes), without starting them. A plugin that cannot be loaded is an error
// naming it, exactly as start-up would report it.
import type { Config } from "../config/schema.ts";
import { loadPlugins, pluginsDir, PluginStartError } from "../plugins/host.ts";

export async function runPlugins(args: string[], config: Config): Promise<number> {
  if (args[0] !== "list") {
    process.stderr.write("usage: plinth plugins list [--json]\n");
    return 2;
  }
  try {
    const loaded = await loadPlugins(config);
    const rows = loaded.map((l) => ({
      name: l.plugin.name,
      version: l.plugin.version,
      dependsOn: l.plugin.dependsOn ?? [],
      hooks: Object.keys(l.plugin.hooks ?? {}),
      routes: l.plugin.routes ? `/plugins/v1/${l.plugin.name}/` : null,
      file: l.file,
    }));
    if (args.includes("--json")) {
      process.stdout.write(`${JSON.stringify({ dir: pluginsDir(config), plugins: rows }, null, 2)}\n`);
      return 0;
    }
    const dir = pluginsDir(config);
    process.stdout.write(dir ? `plugins in ${dir}\n` : "no plugins directory (plugins.dir, <dataDir>/plugins or ./plugins)\n");
    for (const r of rows) {
      process.stdout.write(
        `  ${r.name}@${r.version}  hooks: ${r.hooks.join(", ") || "-"}  routes: ${r.routes ?? "-"}${r.dependsOn.length ? `  after: ${r.dependsOn.join(", ")}` : ""}\n`,
      );
    }
    return 0;
  } catch (err) {
    if (err instanceof PluginStartError) {
      process.stderr.write(`${err.message}\n`);
      return 1;
    }
    throw err;
  }
}
