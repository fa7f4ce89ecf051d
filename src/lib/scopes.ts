// Scoped API keys: the grammar of a scope, and the gateway's check of a request against a key's
// scopes, before the request reaches any service (so before any SQL runs). Pure: no database, no
// schema cache. Where the request's shape cannot be judged from its URL and headers alone (a storage
// move naming its buckets in the body, the S3 and TUS protocols), only a wildcard scope admits it.
//
// Grammar (README "Keys"):
//   scope     = rest | storage | realtime | admin
//   rest      = "rest:" ("read" | "write" | "rpc") ":" target
//   target    = "*" | schema ".*" | schema "." name       (schema, name: [A-Za-z_][A-Za-z0-9_$]{0,62})
//   storage   = "storage:" ("read" | "write") ":" (bucket | "*")   (bucket: [A-Za-z0-9][A-Za-z0-9_.-]{0,99})
//   realtime  = "realtime:subscribe" | "realtime:broadcast"
//   admin     = "admin:read" | "admin:write"
// rest:read = GET/HEAD of a table or view; rest:write = POST/PATCH/PUT/DELETE on it (a write that
// returns rows needs no extra read scope); rest:rpc = /rest/v1/rpc/name by any method. Embedded
// resources in `select` (`other(*)`, `alias:other!hint(*)`, `...other(*)`) need read on each.
// The key's role still applies in PostgreSQL (grants and RLS): a scope only narrows it.
//
// Traps: the table comes from the decoded path segment and the schema from Accept-Profile /
// Content-Profile, exactly as the REST service reads them, so an encoded name cannot slip past. A
// path with more segments than the API uses is refused rather than guessed at.

export type ScopeDenial = { code: "scope_denied"; message: string };

const IDENT = "[A-Za-z_][A-Za-z0-9_$]{0,62}";
const BUCKET = "[A-Za-z0-9][A-Za-z0-9_.-]{0,99}";
const SCOPE_RE = new RegExp(
  `^(?:rest:(?:read|write|rpc):(?:\\*|${IDENT}\\.(?:\\*|${IDENT}))|storage:(?:read|write):(?:\\*|${BUCKET})|realtime:(?:subscribe|broadcast)|admin:(?:read|write))$`,
);

/** Null when valid, else why not. */
export function scopeProblem(scope: string): string | null {
  return SCOPE_RE.test(scope)
    ? null
    : `'${scope.slice(0, 80)}' is not a scope (e.g. rest:read:public.notes, storage:write:avatars, realtime:subscribe, admin:read)`;
}

export type ScopeSet = ReadonlySet<string>;

export interface ScopeRequest {
  area: string;
  method: string;
  url: URL;
  headers: Headers;
  /** The REST API's default schema (the first exposed one). */
  defaultSchema: string;
}

const deny = (message: string): ScopeDenial => ({ code: "scope_denied", message });

function has(scopes: ScopeSet, kind: string, schema: string, name: string): boolean {
  return scopes.has(`${kind}:*`) || scopes.has(`${kind}:${schema}.*`) || scopes.has(`${kind}:${schema}.${name}`);
}

function decode(segment: string): string | null {
  try {
    return decodeURIComponent(segment);
  } catch {
    return null;
  }
}

/** Null when the key's scopes admit the request, else a 403 to send. */
export function scopeDenial(scopes: ScopeSet, r: ScopeRequest): ScopeDenial | null {
  switch (r.area) {
    case "rest":
      return restDenial(scopes, r);
    case "storage":
      return storageDenial(scopes, r);
    case "realtime": {
      const broadcast = r.url.pathname.startsWith("/realtime/v1/api/");
      const need = broadcast ? "realtime:broadcast" : "realtime:subscribe";
      return scopes.has(need) ? null : deny(`This key has no ${need} scope`);
    }
    case "admin": {
      const reading = r.method === "GET" || r.method === "HEAD";
      return scopes.has("admin:write") || (reading && scopes.has("admin:read")) ? null : deny(`This key has no admin:${reading ? "read" : "write"} scope`);
    }
    case "auth":
      // A scoped key is a server's credential for data: it signs nobody in and manages no users.
      return r.method === "GET" && /^\/auth\/v1\/(settings|health|\.well-known\/jwks\.json)$/.test(r.url.pathname)
        ? null
        : deny("Scoped keys cannot call the auth API");
    default:
      return null;
  }
}

function restDenial(scopes: ScopeSet, r: ScopeRequest): ScopeDenial | null {
  const reading = r.method === "GET" || r.method === "HEAD";
  const writing = r.method === "POST" || r.method === "PATCH" || r.method === "PUT" || r.method === "DELETE";
  if (!reading && !writing) return deny(`Method ${r.method} is outside this key's scopes`);
  const schema = r.headers.get(reading ? "accept-profile" : "content-profile") ?? r.defaultSchema;
  const rest = r.url.pathname.slice("/rest/v1".length);
  if (rest === "" || rest === "/") {
    return reading && (scopes.has("rest:read:*") || scopes.has(`rest:read:${schema}.*`))
      ? null
      : deny("The schema description needs rest:read on the whole schema");
  }
  const segs = rest.slice(1).split("/");
  if (segs[0] === "rpc") {
    const fn = segs.length === 2 ? decode(segs[1]!) : null;
    if (fn === null || fn === "") return deny("Unknown path");
    return has(scopes, "rest:rpc", schema, fn) ? null : deny(`This key has no rest:rpc scope for ${schema}.${fn}`);
  }
  const table = segs.length === 1 ? decode(segs[0]!) : null;
  if (table === null || table === "") return deny("Unknown path");
  const kind = reading ? "rest:read" : "rest:write";
  if (!has(scopes, kind, schema, table)) return deny(`This key has no ${kind} scope for ${schema}.${table}`);
  for (const select of r.url.searchParams.getAll("select")) {
    for (const target of embedTargets(select)) {
      if (target === null) return deny("The select parameter could not be checked against this key's scopes");
      if (!has(scopes, "rest:read", schema, target)) return deny(`This key has no rest:read scope for the embedded ${schema}.${target}`);
    }
  }
  return null;
}

/**
 * The resources a PostgREST `select` embeds: the name before each `(`, without spread dots, alias
 * and `!hint`s, unquoted. null for a name that cannot be read (refused by the caller). Aggregates
 * (`amount.sum()`) read as an embed named `sum` and are refused unless such a table is in scope:
 * too strict, never too loose.
 */
export function embedTargets(select: string): (string | null)[] {
  const out: (string | null)[] = [];
  for (let i = select.indexOf("("); i !== -1; i = select.indexOf("(", i + 1)) {
    let j = i;
    while (j > 0 && !",()".includes(select[j - 1]!)) j--;
    let token = select.slice(j, i).trim();
    token = token.replace(/^\.\.\./, "");
    const colon = token.lastIndexOf(":");
    if (colon !== -1) token = token.slice(colon + 1);
    const bang = token.indexOf("!");
    if (bang !== -1) token = token.slice(0, bang);
    token = token.trim();
    if (token.startsWith('"') && token.endsWith('"') && token.length >= 2) token = token.slice(1, -1).replaceAll('""', '"');
    const dot = token.lastIndexOf(".");
    if (dot !== -1) token = token.slice(dot + 1); // `amount.sum(`: judged as `sum`
    out.push(token === "" ? null : token);
  }
  return out;
}

const STORAGE_OBJECT_READ = new Set(["public", "authenticated", "sign", "list", "info"]);

function storageDenial(scopes: ScopeSet, r: ScopeRequest): ScopeDenial | null {
  const reading = r.method === "GET" || r.method === "HEAD";
  const segs = r.url.pathname.slice("/storage/v1/".length).split("/");
  const bucketAllowed = (action: "read" | "write", raw: string | undefined) => {
    if (scopes.has(`storage:${action}:*`)) return true;
    const bucket = raw === undefined ? null : decode(raw);
    return bucket !== null && bucket !== "" && scopes.has(`storage:${action}:${bucket}`);
  };
  const verdict = (action: "read" | "write", raw: string | undefined) =>
    bucketAllowed(action, raw) ? null : deny(`This key has no storage:${action} scope for this bucket`);
  const [top, second, third] = segs;
  if (top === "object") {
    if (second === "upload" && third === "sign") return verdict("write", segs[3]);
    if (second === "info" && third === "public") return verdict("read", segs[3]);
    if (second && STORAGE_OBJECT_READ.has(second)) {
      // A signed upload URL is /object/upload/sign; /object/sign/... creates or uses a download URL.
      return verdict("read", third);
    }
    if (second === "move" || second === "copy") return verdict("write", undefined); // buckets in the body
    return verdict(reading ? "read" : "write", second);
  }
  if (top === "render" && second === "image") return verdict("read", segs[3]);
  if (top === "bucket") return verdict(reading ? "read" : "write", undefined);
  // The TUS and S3 protocols name the bucket in headers or the body: wildcard only.
  return scopes.has("storage:write:*") && scopes.has("storage:read:*") ? null : deny("This storage endpoint needs storage:read:* and storage:write:*");
}
