// Password sign-in against a real OpenLDAP directory (slapd started by this file on free ports):
// service bind, search by filter, user bind; StartTLS on ldap:// and LDAPS, each with a verified
// certificate (an untrusted one refuses the directory, never falls back to plain text); just-in-
// time provisioning with an `ldap` identity; groups → app_metadata and admin levels; the order of
// providers and the fallback to local passwords; and the ugly cases: wrong password, empty password
// (an unauthenticated bind LDAP would accept), filter injection, the directory down.
import { afterAll, describe, expect, test } from "bun:test";
import { createDirectory, DirectoryUnavailable } from "../src/auth/ldap/directory.ts";
import { client, uniqueEmail } from "./support/auth.ts";
import { startTestServer } from "./support/server.ts";
import { slapdAvailable, startSlapd } from "./support/slapd.ts";

const available = slapdAvailable();
if (!available) console.warn("\n\n!!! auth.ldap.test.ts SKIPPED: slapd is not installed and `apt-get install -y slapd ldap-utils` failed !!!\n\n");

const B = "dc=plinth,dc=test";
const person = (uid: string, mail: string, pass: string, cn = uid) => `dn: uid=${uid},ou=people,${B}
objectClass: inetOrgPerson
uid: ${uid}
cn: ${cn}
sn: ${uid}
mail: ${mail}
userPassword: ${pass}
`;
const slapd = available
  ? await startSlapd(`dn: ou=people,${B}
objectClass: organizationalUnit
ou: people

dn: ou=groups,${B}
objectClass: organizationalUnit
ou: groups

${person("ann", "ann@corp.test", "ann-pass", "Ann Example")}
${person("ben", "ben@corp.test", "ben-pass")}
${person("star", "star@corp.test", "star-pass")}
dn: cn=plinth-admins,ou=groups,${B}
objectClass: groupOfNames
cn: plinth-admins
member: uid=ann,ou=people,${B}

dn: cn=staff,ou=groups,${B}
objectClass: groupOfNames
cn: staff
member: uid=ann,ou=people,${B}
member: uid=ben,ou=people,${B}
`)
  : null;
afterAll(() => slapd?.stop());

const ldapBase = slapd && {
  url: slapd.url,
  bindDn: slapd.bindDn,
  bindPassword: slapd.bindPassword,
  searchBase: `ou=people,${B}`,
  searchFilter: "(|(uid={login})(mail={login}))",
  groupSearchFilter: "(&(objectClass=groupOfNames)(member={dn}))",
  groupSearchBase: `ou=groups,${B}`,
  adminGroups: { "plinth-admins": "admin" as const },
};
// StartTLS: every sign-in through this server upgrades its ldap:// connections with a verified certificate.
const withLocal = available ? await startTestServer({ auth: { autoconfirm: true, ldap: { ...ldapBase!, startTls: true, caFile: slapd!.caFile } } }) : null;
const ldapOnly = available
  ? await startTestServer({ auth: { autoconfirm: true, ldap: { ...ldapBase!, url: slapd!.ldapsUrl, caFile: slapd!.caFile, order: ["ldap"] } } })
  : null;
const down = available
  ? await startTestServer({ auth: { autoconfirm: true, ldap: { ...ldapBase!, url: "ldap://127.0.0.1:9", timeout: 500, order: ["ldap"] } } })
  : null;
const downFallback = available ? await startTestServer({ auth: { autoconfirm: true, ldap: { ...ldapBase!, url: "ldap://127.0.0.1:9", timeout: 500 } } }) : null;

describe.skipIf(!available)("LDAP password sign-in", () => {
  test("a directory user signs in, gets an ldap identity, groups and an admin level; a second sign-in is the same user", async () => {
    const sb = client(withLocal!.url, withLocal!.keys.anon);
    const r = await sb.auth.signInWithPassword({ email: "ann@corp.test", password: "ann-pass" });
    expect(r.error).toBeNull();
    const user = r.data.user!;
    expect(user.email).toBe("ann@corp.test");
    expect(user.identities).toHaveLength(1);
    expect(user.identities![0]).toMatchObject({
      provider: "ldap",
      identity_data: { dn: `uid=ann,ou=people,${B}`, email: "ann@corp.test", name: "Ann Example" },
    });
    expect(user.identities![0]!.id).toMatch(/^[0-9a-f-]{36}$/); // entryUUID
    expect(user.app_metadata.provider).toBe("ldap");
    expect(user.app_metadata.groups.sort()).toEqual([`cn=plinth-admins,ou=groups,${B}`, `cn=staff,ou=groups,${B}`]);
    const db = withLocal!.database.db.sql;
    const [admin] = await db`select level, created_via from plinth.admins where user_id = ${user.id}`;
    expect(admin).toEqual({ level: "admin", created_via: "ldap" });

    const again = await sb.auth.signInWithPassword({ email: "ann@corp.test", password: "ann-pass" });
    expect(again.data.user?.id).toBe(user.id);
    // By uid too (the filter matches uid or mail): sign-in by username.
    const byUid = await fetch(`${withLocal!.url}/auth/v1/token?grant_type=password`, {
      method: "POST",
      headers: { apikey: withLocal!.keys.anon, "content-type": "application/json" },
      body: JSON.stringify({ username: "ben", password: "ben-pass" }),
    });
    expect(byUid.status).toBe(200);
    const ben = (await byUid.json()) as any;
    expect(ben.user.email).toBe("ben@corp.test");
    expect((await db`select count(*)::int as n from plinth.admins where user_id = ${ben.user.id}`)[0]!.n).toBe(0);
  });

  test("wrong password, empty password, unknown login and filter injection are refused", async () => {
    const sb = client(ldapOnly!.url, ldapOnly!.keys.anon);
    expect((await sb.auth.signInWithPassword({ email: "ben@corp.test", password: "nope" })).error?.code).toBe("invalid_credentials");
    const empty = await fetch(`${ldapOnly!.url}/auth/v1/token?grant_type=password`, {
      method: "POST",
      headers: { apikey: ldapOnly!.keys.anon, "content-type": "application/json" },
      body: JSON.stringify({ username: "ben", password: "" }),
    });
    expect(empty.status).toBe(400);
    expect((await sb.auth.signInWithPassword({ email: "nobody@corp.test", password: "x" })).error?.code).toBe("invalid_credentials");
    // "*" would match every entry unescaped; escaped it matches none.
    for (const login of ["*", "ben)(uid=*", "*)(|(uid=*"]) {
      const r = await fetch(`${ldapOnly!.url}/auth/v1/token?grant_type=password`, {
        method: "POST",
        headers: { apikey: ldapOnly!.keys.anon, "content-type": "application/json" },
        body: JSON.stringify({ username: login, password: "ben-pass" }),
      });
      expect(r.status).toBe(400);
    }
    // LDAPS works with the verified certificate.
    expect((await sb.auth.signInWithPassword({ email: "star@corp.test", password: "star-pass" })).error).toBeNull();
  });

  test("brute force through the directory locks the login like a local password (429 user_locked, the right password too)", async () => {
    const attempt = (password: string) =>
      fetch(`${ldapOnly!.url}/auth/v1/token?grant_type=password`, {
        method: "POST",
        headers: { apikey: ldapOnly!.keys.anon, "content-type": "application/json" },
        body: JSON.stringify({ username: "ann", password }),
      });
    for (let i = 0; i < 5; i++) expect((await attempt(`guess-${i}`)).status).toBe(400);
    const locked = await attempt("ann-pass");
    expect(locked.status).toBe(429);
    expect(((await locked.json()) as any).code).toBe("user_locked");
  });

  test("order and fallback: local passwords still work behind the directory; ldap-only refuses local users", async () => {
    const email = uniqueEmail("local");
    const local = client(withLocal!.url, withLocal!.keys.anon);
    expect((await local.auth.signUp({ email, password: "correct horse 1" })).error).toBeNull();
    expect((await local.auth.signInWithPassword({ email, password: "correct horse 1" })).error).toBeNull();
    const only = client(ldapOnly!.url, ldapOnly!.keys.anon);
    await only.auth.signUp({ email, password: "correct horse 1" });
    expect((await only.auth.signInWithPassword({ email, password: "correct horse 1" })).error?.code).toBe("invalid_credentials");
  });

  test("directory down: 503 directory_unavailable when it is the only way in; local passwords still work with fallback", async () => {
    const sb = client(down!.url, down!.keys.anon);
    const r = await sb.auth.signInWithPassword({ email: "ann@corp.test", password: "ann-pass" });
    expect(r.error?.status).toBe(503);
    const raw = await fetch(`${down!.url}/auth/v1/token?grant_type=password`, {
      method: "POST",
      headers: { apikey: down!.keys.anon, "content-type": "application/json" },
      body: JSON.stringify({ email: "ann@corp.test", password: "ann-pass" }),
    });
    expect(raw.status).toBe(503);
    expect(((await raw.json()) as any).code).toBe("directory_unavailable");

    const fb = client(downFallback!.url, downFallback!.keys.anon);
    const email = uniqueEmail("fallback");
    await fb.auth.signUp({ email, password: "correct horse 1" });
    expect((await fb.auth.signInWithPassword({ email, password: "correct horse 1" })).error).toBeNull();
  });
});

describe.skipIf(!available)("StartTLS", () => {
  const config = (over: Record<string, unknown>) =>
    ({ ...ldapBase!, enabled: true, timeout: 3000, emailAttribute: "mail", nameAttribute: "cn", groupAttribute: "memberOf", ...over }) as never;

  test("sign-in over ldap:// upgraded with StartTLS and a trusted certificate succeeds", async () => {
    const dir = createDirectory(config({ startTls: true, caFile: slapd!.caFile }));
    const u = await dir.authenticate("ann", "ann-pass");
    expect(u?.login).toBe("ann");
  });

  test("a certificate that is not trusted refuses the directory: no plain-text fallback", async () => {
    const dir = createDirectory(config({ startTls: true, caFile: undefined }));
    const err = await dir.authenticate("ann", "ann-pass").catch((e) => e);
    expect(err).toBeInstanceOf(DirectoryUnavailable);
    expect(String(err.message)).toMatch(/self.signed|certificate/i);
  });
});
