// OpenLDAP's slapd for the LDAP suites, started by the test on free loopback ports with a temporary
// slapd.conf and database (seeded with slapadd), plain + StartTLS on one port and LDAPS on another,
// with a self-signed certificate for 127.0.0.1. When slapd is not installed it tries
// `apt-get install -y slapd ldap-utils` once; if that fails the caller skips loudly.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

const SLAPD = ["/usr/sbin/slapd", "/usr/local/libexec/slapd"].find(existsSync);

export function slapdAvailable(): boolean {
  if (SLAPD || existsSync("/usr/sbin/slapd")) return true;
  const r = spawnSync("apt-get", ["install", "-y", "slapd", "ldap-utils"], {
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    stdio: "ignore",
    timeout: 300_000,
  });
  return r.status === 0 && existsSync("/usr/sbin/slapd");
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface Slapd {
  url: string;
  ldapsUrl: string;
  caFile: string;
  base: string;
  bindDn: string;
  bindPassword: string;
  stop(): Promise<void>;
}

export async function startSlapd(ldif: string): Promise<Slapd> {
  const dir = mkdtempSync(join(tmpdir(), "plinth-slapd-"));
  const db = join(dir, "db");
  mkdirSync(db);
  const ssl = spawnSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "1",
      "-subj",
      "/CN=127.0.0.1",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
      "-keyout",
      join(dir, "key.pem"),
      "-out",
      join(dir, "cert.pem"),
    ],
    { stdio: "ignore" },
  );
  if (ssl.status !== 0) throw new Error("openssl could not make a test certificate");
  const base = "dc=plinth,dc=test";
  const conf = join(dir, "slapd.conf");
  writeFileSync(
    conf,
    `include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile ${dir}/slapd.pid
TLSCertificateFile ${dir}/cert.pem
TLSCertificateKeyFile ${dir}/key.pem
database mdb
maxsize 10485760
suffix "${base}"
rootdn "cn=admin,${base}"
rootpw admin-secret
directory ${db}
access to attrs=userPassword by anonymous auth by self write by * none
access to * by dn.exact="cn=reader,${base}" read by self read by * none
`,
  );
  const seed = `dn: ${base}
objectClass: dcObject
objectClass: organization
o: Plinth test
dc: plinth

dn: cn=reader,${base}
objectClass: person
cn: reader
sn: reader
userPassword: reader-secret

${ldif}`;
  writeFileSync(join(dir, "seed.ldif"), seed);
  const add = spawnSync("/usr/sbin/slapadd", ["-f", conf, "-l", join(dir, "seed.ldif")], { encoding: "utf8" });
  if (add.status !== 0) throw new Error(`slapadd failed: ${add.stderr}`);
  const port = await freePort();
  const sport = await freePort();
  const proc: ChildProcess = spawn(SLAPD ?? "/usr/sbin/slapd", ["-f", conf, "-h", `ldap://127.0.0.1:${port}/ ldaps://127.0.0.1:${sport}/`, "-d", "0"], {
    stdio: "ignore",
  });
  const deadline = Date.now() + 10_000;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = require("node:net").connect(port, "127.0.0.1");
      s.on("connect", () => (s.destroy(), resolve(true)));
      s.on("error", () => resolve(false));
    });
    if (ok) break;
    if (Date.now() > deadline || proc.exitCode !== null) throw new Error("slapd did not start");
    await Bun.sleep(50);
  }
  return {
    url: `ldap://127.0.0.1:${port}`,
    ldapsUrl: `ldaps://127.0.0.1:${sport}`,
    caFile: join(dir, "cert.pem"),
    base,
    bindDn: `cn=reader,${base}`,
    bindPassword: "reader-secret",
    stop: async () => {
      proc.kill("SIGTERM");
      await new Promise((r) => (proc.exitCode !== null ? r(null) : proc.once("exit", r)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
