// Where e-mail links and /verify may send the browser: the site URL's own origin, or a URL on the
// configured allow list (exact, or a prefix ending in `*`). Anything else falls back to the site
// URL, so a crafted link can never bounce a freshly minted session to someone else's page.
import type { Config } from "../config/schema.ts";

export function safeRedirect(config: Config, requested: string | null | undefined): string {
  const site = config.auth.siteUrl;
  if (!requested) return site;
  let url: URL;
  try {
    url = new URL(requested);
  } catch {
    return site;
  }
  // Credentials in a URL are a phishing trick; and only web or app schemes make sense here.
  if (url.username || url.password || /^(javascript|data|vbscript|file):$/i.test(url.protocol)) return site;
  if (url.origin === new URL(site).origin && url.origin !== "null") return requested;
  for (const allowed of config.auth.redirectUrls) {
    if (!allowed.endsWith("*")) {
      if (requested === allowed) return requested;
      continue;
    }
    const prefix = allowed.slice(0, -1);
    // "https://app.example.com*" must not admit "https://app.example.com.evil.test".
    let prefixOrigin: string | null = null;
    try {
      prefixOrigin = new URL(prefix).origin;
    } catch {
      // a bare scheme such as "myapp://*": the prefix test alone decides
    }
    if (requested.startsWith(prefix) && (prefixOrigin === null || prefixOrigin === url.origin)) return requested;
  }
  return site;
}
