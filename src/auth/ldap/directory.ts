// The LDAP password provider (ldapts): bind as the service account, find the user by the configured
// filter, then bind as that entry with the typed password. StartTLS upgrades an ldap:// connection;
// ldaps:// is TLS from the start; certificates are verified (caFile, or the system's CAs).
//
// Traps:
// - An empty password is an *unauthenticated* bind in LDAP (RFC 4513 §5.1.2), which servers accept:
//   it is refused here before any bind.
// - The login goes into the filter escaped per RFC 4515, so "*)(uid=*" cannot widen the search.
// - Exactly one entry must match; two is a misconfigured filter and signs nobody in.
// - StartTLS: ldapts (Client constructor) treats ANY non-empty `tlsOptions` as "secure" and then
//   opens TLS straight away, even for an ldap:// URL: a ClientHello sent to slapd's plain listener,
//   which resets it (ECONNRESET, "socket disconnected before secure TLS connection was
//   established"). That, not Bun's socket upgrade, is why StartTLS once failed here (a CA file set
//   made tlsOptions non-empty). So an ldap:// client gets no tlsOptions; startTLS() gets them,
//   plus `host` (the name tls.connect checks the certificate against when given a socket) and,
//   for a DNS name, `servername` for SNI. Verification stays on: an untrusted or mismatched
//   certificate fails the upgrade, which is DirectoryUnavailable, never a plain-text fallback.
// - Connection failures (directory down, TLS refused) are DirectoryUnavailable, distinct from wrong
//   credentials, so the caller can fall back to local passwords or answer 503.
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { Client, InvalidCredentialsError, type Entry } from "ldapts";
import type { Config } from "../../config/schema.ts";

type LdapConfig = Config["auth"]["ldap"];

export interface DirectoryUser {
  /** entryUUID when the server has it, else the DN: the identity's provider_id. */
  id: string;
  dn: string;
  login: string;
  email: string | null;
  name: string | null;
  /** Group DNs. */
  groups: string[];
}

export class DirectoryUnavailable extends Error {}

/** RFC 4515 escaping of a value inside a filter. */
export function escapeFilterValue(value: string): string {
  return value.replace(/[\\*()\0]/g, (c) => `\\${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

const first = (v: Entry[string] | undefined): string | null => {
  const x = Array.isArray(v) ? v[0] : v;
  return x === undefined ? null : Buffer.isBuffer(x) ? x.toString("utf8") : String(x);
};
const all = (v: Entry[string] | undefined): string[] =>
  v === undefined ? [] : (Array.isArray(v) ? v : [v]).map((x) => (Buffer.isBuffer(x) ? x.toString("utf8") : String(x)));

export interface Directory {
  authenticate(login: string, password: string): Promise<DirectoryUser | null>;
}

export function ldapEnabled(c: LdapConfig): boolean {
  return c.enabled ?? !!c.url;
}

export function createDirectory(c: LdapConfig): Directory {
  const tlsOptions = c.caFile ? { ca: [readFileSync(c.caFile)] } : {};
  const connect = async (): Promise<Client> => {
    const ldaps = c.url!.toLowerCase().startsWith("ldaps://");
    // tlsOptions only for ldaps:// (see the header: with them ldapts would speak TLS to the plain port).
    const client = new Client({ url: c.url!, timeout: c.timeout, connectTimeout: c.timeout, ...(ldaps ? { tlsOptions } : {}) });
    if (c.startTls && c.url!.toLowerCase().startsWith("ldap://")) {
      const host = new URL(c.url!).hostname.replace(/^\[|\]$/g, "");
      await client.startTLS({ ...tlsOptions, host, ...(isIP(host) ? {} : { servername: host }) });
    }
    return client;
  };
  const unavailable = (err: unknown) =>
    new DirectoryUnavailable(`The directory at ${new URL(c.url!).host} could not be reached: ${(err as Error)?.message ?? err}`);

  return {
    async authenticate(login, password) {
      if (!password || !login || login.length > 256) return null;
      let service: Client;
      try {
        service = await connect();
        if (c.bindDn) await service.bind(c.bindDn, c.bindPassword ?? "");
      } catch (err) {
        throw unavailable(err);
      }
      let entry: Entry | undefined;
      let groups: string[] = [];
      try {
        const filter = c.searchFilter.replaceAll("{login}", escapeFilterValue(login));
        const { searchEntries } = await service.search(c.searchBase ?? "", {
          scope: "sub",
          filter,
          sizeLimit: 2,
          attributes: ["entryUUID", c.emailAttribute, c.nameAttribute, c.groupAttribute],
        });
        if (searchEntries.length !== 1) return null;
        entry = searchEntries[0]!;
        groups = all(entry[c.groupAttribute]);
        if (c.groupSearchFilter) {
          const gf = c.groupSearchFilter.replaceAll("{dn}", escapeFilterValue(entry.dn)).replaceAll("{login}", escapeFilterValue(login));
          const g = await service.search(c.groupSearchBase ?? c.searchBase ?? "", { scope: "sub", filter: gf, attributes: ["cn"] });
          groups = [...new Set([...groups, ...g.searchEntries.map((e) => e.dn)])];
        }
      } catch (err) {
        if ((err as { code?: number }).code === 4) return null; // sizeLimitExceeded: more than one match
        throw unavailable(err);
      } finally {
        await service.unbind().catch(() => {});
      }
      let user: Client;
      try {
        user = await connect();
      } catch (err) {
        throw unavailable(err);
      }
      try {
        await user.bind(entry.dn, password);
      } catch (err) {
        if (err instanceof InvalidCredentialsError) return null;
        throw unavailable(err);
      } finally {
        await user.unbind().catch(() => {});
      }
      return {
        id: first(entry.entryUUID) ?? entry.dn,
        dn: entry.dn,
        login,
        email: first(entry[c.emailAttribute])?.toLowerCase() ?? null,
        name: first(entry[c.nameAttribute]),
        groups,
      };
    },
  };
}
