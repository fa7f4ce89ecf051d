// The plugins as a service: the host started at creation (so a failing plugin stops start-up
// before the server listens), its routes under /plugins/v1/<name>/…, and stop at shutdown.
import { Elysia } from "elysia";
import type { Service, ServiceContext } from "../service.ts";
import { DataChangeFeed } from "./data-changes.ts";
import { PluginHost, loadPlugins } from "./host.ts";

export interface PluginService extends Service {
  host: PluginHost;
  /** data.change's feed for realtime's change stream; null without plugins. */
  dataChanges: DataChangeFeed | null;
}

export async function createPluginService(svc: ServiceContext): Promise<PluginService> {
  const host = new PluginHost(await loadPlugins(svc.config), svc.config, svc.db, svc.log);
  await host.start();
  const dataChanges = host.plugins.length ? new DataChangeFeed(host, svc.log) : null;
  const byName = new Map(host.plugins.map((l) => [l.plugin.name, l.plugin]));
  const dispatch = async (request: Request, name: string): Promise<Response> => {
    const p = byName.get(name);
    if (!p?.routes) return Response.json({ code: "not_found", message: `No plugin route ${name}` }, { status: 404 });
    const url = new URL(request.url);
    url.pathname = url.pathname.slice(`/plugins/v1/${name}`.length) || "/";
    const inner = new Request(url, request);
    try {
      return typeof p.routes === "function" ? await p.routes(inner) : await p.routes.handle(inner);
    } catch (err) {
      svc.log.warn("plugin: route failed", { plugin: name, error: err });
      return Response.json({ code: "plugin_error", message: `Plugin ${name} failed to answer` }, { status: 500 });
    }
  };
  const routes = new Elysia({ prefix: "/plugins/v1" })
    .all("/:name", (c) => dispatch(c.request, c.params.name))
    .all("/:name/*", (c) => dispatch(c.request, c.params.name));
  return {
    name: "plugins",
    routes,
    host,
    dataChanges,
    stats: () => ({ plugins: host.stats() }),
    stop: () => host.stop(),
  };
}
