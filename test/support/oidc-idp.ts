// A real OpenID Connect provider for the OAuth suites: the `oidc-provider` package on a random
// loopback port, with devInteractions (a login form taking any login, then a consent form), and a
// signing key the test also holds, so it can mint ID tokens the provider would (expired ones,
// another issuer's) for the ugly cases. `browse` drives the redirect flow like a browser: cookies,
// redirects and the two forms.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
// @ts-ignore -- oidc-provider ships no type declarations
import Provider from "oidc-provider";

export interface Idp {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Registers Plinth's callback (known only once Plinth listens) and starts answering. */
  start(redirectUris: string[]): void;
  /** Signs an ID token with the provider's own key. */
  mint(claims: Record<string, unknown>, opts?: { expiresIn?: number; issuer?: string; audience?: string }): Promise<string>;
  stop(): Promise<void>;
}

export async function startIdp(accounts: Record<string, { email: string; email_verified?: boolean; name?: string }>): Promise<Idp> {
  let handler: ((req: IncomingMessage, res: ServerResponse) => void) | null = null;
  const server = createServer((req, res) => {
    if (!handler) {
      res.statusCode = 503;
      res.end();
      return;
    }
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { privateKey } = await generateKeyPair("RS256", { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), kid: "idp-key", alg: "RS256", use: "sig" };
  const clientId = "plinth-test";
  const clientSecret = "idp-client-secret-0123456789";
  return {
    issuer,
    clientId,
    clientSecret,
    start(redirectUris) {
      const provider = new Provider(issuer, {
        clients: [
          { client_id: clientId, client_secret: clientSecret, redirect_uris: redirectUris, response_types: ["code"], grant_types: ["authorization_code"] },
        ],
        jwks: { keys: [jwk as any] },
        cookies: { keys: ["idp-cookie-key-for-tests"] },
        claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"] },
        conformIdTokenClaims: false,
        findAccount: async (_ctx: unknown, id: string) => {
          const a = accounts[id];
          if (!a) return undefined;
          return { accountId: id, claims: async () => ({ sub: id, email: a.email, email_verified: a.email_verified ?? true, name: a.name ?? id }) };
        },
      } as any);
      provider.on("server_error", (_ctx: unknown, err: Error) => console.error("idp server_error", err));
      handler = provider.callback() as any;
    },
    async mint(claims, opts = {}) {
      const now = Math.floor(Date.now() / 1000);
      const exp = now + (opts.expiresIn ?? 600);
      return new SignJWT({ ...claims })
        .setProtectedHeader({ alg: "RS256", kid: "idp-key" })
        .setIssuer(opts.issuer ?? issuer)
        .setAudience(opts.audience ?? clientId)
        .setIssuedAt(Math.min(now, exp - 60))
        .setExpirationTime(exp)
        .sign(privateKey);
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * Follows a redirect chain from `start` like a browser, signing in as `login` at the IdP's forms,
 * until a URL `stopAt` accepts comes up (after the first); returns that URL. Every hop is recorded.
 */
export async function browse(start: string, login: string, stopAt: (u: URL) => boolean, hops: string[] = []): Promise<URL> {
  const jar = new Map<string, string>();
  const cookieHeader = () => [...jar].map(([k, v]) => `${k}=${v}`).join("; ");
  let url = new URL(start);
  let method = "GET";
  let body: string | undefined;
  for (let i = 0; i < 20; i++) {
    hops.push(`${method} ${url}`);
    if (i > 0 && stopAt(url)) return url;
    const res = await fetch(url, {
      method,
      redirect: "manual",
      headers: { cookie: cookieHeader(), ...(body ? { "content-type": "application/x-www-form-urlencoded" } : {}) },
      body,
    });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(";");
      const eq = pair!.indexOf("=");
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      if (/expires=Thu, 01 Jan 1970/i.test(c) || value === "") jar.delete(name);
      else jar.set(name, value);
    }
    const location = res.headers.get("location");
    if (res.status >= 300 && res.status < 400 && location) {
      url = new URL(location, url);
      method = "GET";
      body = undefined;
      continue;
    }
    const html = await res.text();
    const action = /<form[^>]*action="([^"]+)"[^>]*method="post"/i.exec(html)?.[1];
    const prompt = /name="prompt" value="([a-z]+)"/.exec(html)?.[1];
    if (res.status !== 200 || !action || !prompt) throw new Error(`browse: unexpected ${res.status} at ${url}: ${html.slice(0, 300)}`);
    url = new URL(action.replace(/&amp;/g, "&"), url);
    method = "POST";
    body = new URLSearchParams(prompt === "login" ? { prompt, login, password: "any" } : { prompt }).toString();
  }
  throw new Error("browse: too many hops");
}
