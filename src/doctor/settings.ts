// Checks of the configuration itself, no network: config (the file loads; it is private),
// production_rules (what `plinth serve` refuses in production) and proxy (who may set
// X-Forwarded-For).
import { statSync } from "node:fs";
import { isIP } from "node:net";
import { unsafeSettings, type LoadedConfig } from "../config/index.ts";
import { fail, ok, warn, type CheckResult } from "./check.ts";

export function checkConfigFile(loaded: LoadedConfig): CheckResult {
  const { config, file } = loaded;
  const source = file ?? "no config file (defaults and PLINTH_* variables)";
  const summary = `${source} loaded: env ${config.env}`;
  if (file === null) return ok("config", summary);
  const mode = statSync(file).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    return warn(
      "config",
      `${summary}, but the file is readable by other users (mode ${mode.toString(8).padStart(4, "0")}) and may hold secrets`,
      `chmod 600 ${file}`,
    );
  }
  return ok("config", summary);
}

export function checkProductionRules(loaded: LoadedConfig): CheckResult {
  if (loaded.config.env !== "production") {
    // Worth knowing before switching: what would stop `serve` once env is production.
    const wouldFail = unsafeSettings({ ...loaded, config: { ...loaded.config, env: "production" } }).length;
    const ahead = wouldFail === 0 ? "this configuration would also pass them" : `${wouldFail} setting(s) would need changing first`;
    return ok("production_rules", `development mode: the production rules apply with env: production (${ahead})`);
  }
  const problems = unsafeSettings(loaded);
  if (problems.length === 0) return ok("production_rules", "every production rule is met");
  // Each sentence of unsafeSettings already says both what is wrong and how to fix it.
  return fail("production_rules", `${problems.length} setting(s) are unsafe in production; \`plinth serve\` refuses to start`, problems.join("\n"));
}

const isLoopback = (host: string) => host === "localhost" || host === "::1" || /^127\./.test(host);
const isWildcard = (host: string) => host === "0.0.0.0" || host === "::" || host === "[::]";

/** RFC 1918 / unique-local addresses: a load balancer in the same private network is the usual setup. */
function isPrivate(host: string): boolean {
  if (isIP(host) === 4) return /^(10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.)/.test(host);
  if (isIP(host) === 6) return /^f[cd]/i.test(host);
  return false;
}

export function checkProxy({ config }: LoadedConfig): CheckResult {
  const { host, port, trustProxy } = config;
  const where = `${host}:${port}`;
  if (trustProxy) {
    if (isLoopback(host)) return ok("proxy", `trustProxy on, listening on ${where}: only a proxy on this machine reaches Plinth`);
    if (isPrivate(host)) {
      return ok("proxy", `trustProxy on, listening on the private address ${where}: make sure only the load balancer reaches that port`);
    }
    return warn(
      "proxy",
      `trustProxy is on while Plinth listens on ${where}: a client that connects directly can send any X-Forwarded-For, dodging the per-IP rate limits and forging the IPs in the audit log`,
      `listen on 127.0.0.1 (PLINTH_HOST) when the proxy runs on this machine, or firewall port ${port} so that only the proxy reaches it; without a proxy set trustProxy: false`,
    );
  }
  if (isWildcard(host) && config.env === "production") {
    // HTTPS in the public URL while Plinth itself speaks HTTP: something in front terminates TLS,
    // and every request then seems to come from it, so all clients share one rate-limit bucket.
    if (config.publicUrl?.startsWith("https:")) {
      return warn(
        "proxy",
        `publicUrl is ${config.publicUrl} but trustProxy is off: behind a TLS-terminating proxy every request appears to come from the proxy, so all clients share one per-IP rate limit and the audit log shows the proxy's IP`,
        `set trustProxy: true (PLINTH_TRUST_PROXY=true) if a proxy or load balancer sets X-Forwarded-For, and make sure only it reaches port ${port}`,
      );
    }
    return ok(
      "proxy",
      `listening on all interfaces (${where}) with trustProxy off: right when clients connect directly; behind a load balancer set trustProxy: true`,
    );
  }
  return ok("proxy", `listening on ${where}, trustProxy off: client IPs are taken from the connection`);
}
