// Which plugin host an auth context reports to: kept beside the context (set once by the app when
// it assembles the services) so the auth flows reach plugins without importing the app.
import type { PluginHost } from "./host.ts";

const hosts = new WeakMap<object, PluginHost>();

export function attachPlugins(authContext: object, host: PluginHost): void {
  if (host.plugins.length) hosts.set(authContext, host);
}

export function pluginsOf(authContext: object): PluginHost | undefined {
  return hosts.get(authContext);
}
