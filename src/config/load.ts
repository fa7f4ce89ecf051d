// Loading the configuration: schema defaults ← plinth.yaml ← PLINTH_* environment variables.
//
// Layers merge object by object (a file that sets only `rateLimit.perIp.capacity` keeps the default
// `perSecond`); any other value (scalars, lists) replaces the one below it. Every problem found is
// reported at once, each naming where it came from: `plinth.yaml:12: port: ...` or `PLINTH_PORT: ...`.
import { existsSync, readFileSync } from "node:fs";
import { isAbsolute, relative, resolve } from "node:path";
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document } from "yaml";
import { z } from "zod";
import { applyEnv, isTree, type Tree } from "./env.ts";
import { configSchema, type Config } from "./schema.ts";

export interface LoadedConfig {
  config: Config;
  /** Absolute path of the file that was read, or null when none was. */
  file: string | null;
  /**
   * Dotted paths of the leaf settings given by the file or the environment (e.g. "auth.autoconfirm",
   * "rateLimit.perIp.capacity"), so callers can tell "on by default" from "on because the operator
   * said so". A whole list (e.g. "cors.origins") counts as one leaf.
   */
  explicit: Set<string>;
}

export interface LoadOptions {
  /** Config file (relative to cwd). Must exist. Without it, `<cwd>/plinth.yaml` is read if present. */
  file?: string;
  /** Defaults to process.env. */
  env?: Record<string, string | undefined>;
  /** Defaults to process.cwd(). Relative paths in the config are resolved against it. */
  cwd?: string;
}

/** A configuration problem. `.message` is the full human-readable text, one line per issue. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  readonly issues: readonly string[];

  constructor(issues: string | readonly string[]) {
    const list = typeof issues === "string" ? [issues] : [...issues];
    super(list.join("\n"));
    this.issues = list;
  }
}

export const DEFAULT_CONFIG_FILE = "plinth.yaml";

/**
 * Load, merge and validate the configuration. Throws ConfigError listing every problem.
 * Relative `dataDir`, `migrationsDir` and `db.pgBin` are resolved against `cwd`, so the returned
 * config holds absolute paths and no caller has to remember to resolve them.
 */
export function loadConfig(opts: LoadOptions = {}): LoadedConfig {
  const cwd = resolve(opts.cwd ?? process.cwd());
  const file = findConfigFile(opts.file, cwd);
  const source = file === null ? null : readConfigFile(file, displayName(file, cwd));

  const fileTree = source?.tree ?? {};
  const { tree, setBy, errors: envErrors } = applyEnv(mergeTrees(defaultTree(), fileTree), opts.env ?? process.env);

  // A file with syntax errors has no trustworthy content: report those (and env errors) only.
  if (source && source.errors.length > 0) throw new ConfigError([...source.errors, ...envErrors]);

  const result = configSchema.safeParse(tree);
  if (!result.success || envErrors.length > 0) {
    const located = (result.error?.issues ?? []).flatMap((issue) => describeIssue(issue, tree, setBy, source));
    located.sort((a, b) => a.order - b.order); // file issues by line, then env issues
    throw new ConfigError([...located.map((l) => l.text), ...envErrors]);
  }

  const explicit = new Set([...leafPaths(fileTree), ...setBy.keys()]);
  return { config: resolvePaths(result.data, cwd), file, explicit };
}

// ---------------------------------------------------------------------------------------------
// The file

interface FileSource {
  /** As shown in messages: relative to cwd when inside it. */
  name: string;
  tree: Tree;
  /** Syntax / shape errors, already formatted. */
  errors: string[];
  doc: Document.Parsed | null;
  lines: LineCounter;
}

function findConfigFile(file: string | undefined, cwd: string): string | null {
  if (file !== undefined) {
    const abs = resolve(cwd, file);
    if (!existsSync(abs)) {
      const where = abs === file ? "" : ` (${abs})`;
      throw new ConfigError(`Config file not found: ${file}${where}`);
    }
    return abs;
  }
  const fallback = resolve(cwd, DEFAULT_CONFIG_FILE);
  return existsSync(fallback) ? fallback : null; // no plinth.yaml is fine: defaults + env
}

function displayName(abs: string, cwd: string): string {
  const rel = relative(cwd, abs);
  return rel && !rel.startsWith("..") && !isAbsolute(rel) ? rel : abs;
}

function readConfigFile(file: string, name: string): FileSource {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigError(`${name}: cannot read the file: ${err instanceof Error ? err.message : String(err)}`);
  }
  const lines = new LineCounter();
  // prettyErrors off: yaml would append a multi-line code frame to each message; we add file:line:col.
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const source: FileSource = { name, tree: {}, errors: [], doc, lines };

  if (doc.errors.length > 0) {
    source.errors = doc.errors.map((e) => {
      const { line, col } = lines.linePos(e.pos[0]);
      return `${name}:${line}:${col}: ${e.message}`;
    });
    return source;
  }
  if (doc.contents === null) return source; // empty file, or only comments
  if (!isMap(doc.contents)) {
    const found = isSeq(doc.contents) ? "a list" : "a single value";
    const { line } = lines.linePos(doc.contents.range[0]);
    source.errors = [`${name}:${line}: the file must be a mapping of settings (key: value lines), found ${found}`];
    return source;
  }
  try {
    source.tree = dropNulls(doc.toJS() as Tree);
  } catch (err) {
    // e.g. an alias bomb ("excessive alias count") or an unresolvable alias
    source.errors = [`${name}: ${err instanceof Error ? err.message : String(err)}`];
  }
  return source;
}

/**
 * `key:` with no value (or `~`) in a mapping means "not set": this lets an operator comment out
 * every child of a section (`smtp:` alone) without breaking the file, and mirrors empty env vars.
 * Without it, `port:` would silently become 0 through the schema's number coercion.
 */
function dropNulls(tree: Tree): Tree {
  const out: Tree = {};
  for (const [key, value] of Object.entries(tree)) {
    if (value === null || value === undefined) continue;
    out[key] = isTree(value) ? dropNulls(value) : value;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Merging

/** The schema's defaults as a tree. Its output is valid input again (transforms are idempotent). */
function defaultTree(): Tree {
  return configSchema.parse({}) as unknown as Tree;
}

function mergeTrees(base: Tree, over: Tree): Tree {
  const out: Tree = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const below = out[key];
    out[key] = isTree(below) && isTree(value) ? mergeTrees(below, value) : value;
  }
  return out;
}

function leafPaths(tree: Tree, prefix = ""): string[] {
  return Object.entries(tree).flatMap(([key, value]) => {
    const path = prefix + key;
    return isTree(value) ? leafPaths(value, `${path}.`) : [path];
  });
}

function resolvePaths(config: Config, cwd: string): Config {
  return {
    ...config,
    dataDir: resolve(cwd, config.dataDir),
    migrationsDir: resolve(cwd, config.migrationsDir),
    db: { ...config.db, pgBin: config.db.pgBin === undefined ? undefined : resolve(cwd, config.db.pgBin) },
    storage: { ...config.storage, localDir: config.storage.localDir === undefined ? undefined : resolve(cwd, config.storage.localDir) },
    auth: { ...config.auth, templates: resolveTemplatePaths(config.auth.templates, cwd) },
  };
}

function resolveTemplatePaths(templates: Config["auth"]["templates"], cwd: string): Config["auth"]["templates"] {
  const out: Config["auth"]["templates"] = {};
  for (const [kind, t] of Object.entries(templates) as [keyof typeof templates, NonNullable<(typeof templates)[keyof typeof templates]>][]) {
    out[kind] = {
      ...t,
      html: t.html === undefined ? undefined : resolve(cwd, t.html),
      text: t.text === undefined ? undefined : resolve(cwd, t.text),
    };
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Describing schema issues: where (file:line or env var) + which setting + what is wrong

type Issue = z.core.$ZodIssue;
type Described = { order: number; text: string };

function describeIssue(issue: Issue, tree: Tree, setBy: Map<string, string>, source: FileSource | null): Described[] {
  const path = issue.path.map(String);
  if (issue.code === "unrecognized_keys") {
    // One message per unknown key, each pointing at that key's own line.
    return issue.keys.map((key) => located([...path, key], unknownKeyMessage(path, key), source));
  }
  const envVar = setBy.get(path.join("."));
  const message = issueMessage(issue, valueAt(tree, path));
  if (envVar) return [{ order: Number.MAX_SAFE_INTEGER, text: `${envVar}: ${message}` }];
  return [located(path, message, source)];
}

/** `plinth.yaml:12: db.poolMax: message` — the line of the offending key (or its nearest parent). */
function located(path: string[], message: string, source: FileSource | null): Described {
  const field = path.join(".") || "(top level)";
  const offset = source?.doc ? offsetOf(source.doc, path) : undefined;
  if (!source) return { order: Number.MAX_SAFE_INTEGER - 1, text: `${field}: ${message}` };
  if (offset === undefined) return { order: Number.MAX_SAFE_INTEGER - 1, text: `${source.name}: ${field}: ${message}` };
  const { line } = source.lines.linePos(offset);
  return { order: line, text: `${source.name}:${line}: ${field}: ${message}` };
}

/** Offset of the deepest node along `path` that exists in the document: a map key or a list item. */
function offsetOf(doc: Document.Parsed, path: string[]): number | undefined {
  let node: unknown = doc.contents;
  let offset: number | undefined;
  for (const segment of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === segment);
      if (!pair || !isScalar(pair.key)) break;
      offset = pair.key.range?.[0] ?? offset;
      node = pair.value;
    } else if (isSeq(node)) {
      const item: unknown = node.items[Number(segment)];
      if (!isScalar(item) && !isMap(item) && !isSeq(item)) break;
      offset = item.range?.[0] ?? offset;
      node = item;
    } else {
      break;
    }
  }
  return offset;
}

function valueAt(tree: Tree, path: string[]): unknown {
  let node: unknown = tree;
  for (const key of path) {
    if (typeof node !== "object" || node === null) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/**
 * zod's message, made more useful where it is vague. Values are echoed only for number and boolean
 * settings, never for string ones: those include secrets, and error text ends up in logs.
 */
function issueMessage(issue: Issue, value: unknown): string {
  if (issue.code === "invalid_type") {
    // z.coerce.number() turns "abc" into NaN, and zod then says "received NaN".
    if (issue.expected === "number" && typeof value !== "number") {
      return `Invalid input: expected number, got ${show(value)}`;
    }
    if (issue.expected === "string" && (typeof value === "number" || typeof value === "boolean")) {
      return `${issue.message} (put the value in quotes)`;
    }
  }
  if (issue.code === "invalid_union") return unionMessage(issue.errors, value);
  return issue.message;
}

/** zod says just "Invalid input" for unions; list what each alternative expected instead. */
function unionMessage(branches: Issue[][], value: unknown): string {
  const expected = new Set<string>();
  for (const branch of branches) {
    for (const issue of branch) {
      if (issue.code === "invalid_type") expected.add(issue.expected);
    }
  }
  // The schema's `bool`: boolean | "true" | "false" | "yes" | ... — say it plainly.
  if (expected.has("boolean")) return `Invalid input: expected true or false (or yes/no, on/off), got ${show(value)}`;
  return `Invalid input: expected ${[...expected].join(" or ")}, got ${typeof value}`;
}

function unknownKeyMessage(parent: string[], key: string): string {
  const known = knownKeys(parent);
  if (known.length === 0) return "unknown setting";
  const close = closestKey(key, known);
  if (close) return `unknown setting (did you mean "${close}"?)`;
  return `unknown setting; expected one of: ${known.join(", ")}`;
}

/** Keys the schema accepts for the object at `path`. */
function knownKeys(path: string[]): string[] {
  let schema = unwrap(configSchema);
  for (const key of path) {
    if (!(schema instanceof z.ZodObject)) return [];
    const child: z.ZodType | undefined = (schema.shape as Record<string, z.ZodType>)[key];
    if (!child) return [];
    schema = unwrap(child);
  }
  return schema instanceof z.ZodObject ? Object.keys(schema.shape) : [];
}

/** Look through `.default()`, `.prefault()` and `.optional()` to the schema underneath. */
function unwrap(schema: z.ZodType): z.ZodType {
  let inner = schema;
  while (inner instanceof z.ZodDefault || inner instanceof z.ZodPrefault || inner instanceof z.ZodOptional) {
    inner = inner.unwrap() as z.ZodType;
  }
  return inner;
}

/** Suggest a known key for a likely typo: same letters ignoring case/_/-, or edit distance ≤ 2. */
function closestKey(key: string, known: string[]): string | undefined {
  const norm = (s: string) => s.toLowerCase().replace(/[_-]/g, "");
  const exact = known.find((k) => norm(k) === norm(key));
  if (exact) return exact;
  let best: { key: string; distance: number } | undefined;
  for (const k of known) {
    const d = editDistance(norm(key), norm(k));
    if (d <= 2 && (!best || d < best.distance)) best = { key: k, distance: d };
  }
  return best?.key;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitute = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, substitute));
    }
    previous = current;
  }
  return previous[b.length]!;
}
