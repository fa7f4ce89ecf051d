// Rendering auth mails and SMS texts: built-in templates, or the operator's files named in
// `auth.templates`. Placeholders use GoTrue's names ({{ .ConfirmationURL }}, {{ .Token }}, …) so a
// Supabase project's templates work unchanged; {{code}} and {{link}} are short aliases.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { Config } from "../config/schema.ts";
import { BUILTIN_EMAILS } from "./email-builtins.ts";
import { DeliveryError } from "./errors.ts";

export type EmailKind = "confirmation" | "magicLink" | "recovery" | "invite" | "emailChange";

export interface EmailVars {
  siteUrl: string;
  /** The link the user follows (GoTrue's ConfirmationURL). */
  actionLink: string;
  /** The one-time code typed instead of following the link. */
  code: string;
  email: string;
  newEmail?: string;
  redirectTo?: string;
  /** GoTrue's {{ .TokenHash }} (for `/verify?token_hash=` links built by the template itself). */
  tokenHash?: string;
}

export interface RenderedEmail {
  subject: string;
  html: string;
  text: string;
}

export const EMAIL_KINDS: readonly EmailKind[] = ["confirmation", "magicLink", "recovery", "invite", "emailChange"];

const PLACEHOLDER = /\{\{\s*(\.?[A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;
const PLACEHOLDER_EXACT = new RegExp(`^${PLACEHOLDER.source}$`);

/**
 * Placeholder → value. `undefined` means the caller did not supply what the template needs.
 * A Map, not an object literal, so `{{constructor}}` cannot reach Object.prototype.
 */
const EMAIL_PLACEHOLDERS = new Map<string, (v: EmailVars) => string | undefined>([
  [".ConfirmationURL", (v) => v.actionLink],
  [".Token", (v) => v.code],
  [".TokenHash", (v) => v.tokenHash],
  [".Email", (v) => v.email],
  [".NewEmail", (v) => v.newEmail ?? ""],
  [".SiteURL", (v) => v.siteUrl],
  // GoTrue falls back to the site URL when no redirect was asked for.
  [".RedirectTo", (v) => v.redirectTo ?? v.siteUrl],
  ["code", (v) => v.code],
  ["link", (v) => v.actionLink],
]);

export function renderEmail(kind: EmailKind, vars: EmailVars, config: Config): RenderedEmail {
  const builtin = BUILTIN_EMAILS[kind];
  const override = config.auth.templates[kind];
  // Subjects become a header: a newline in a value must not start a new one.
  const subject = substitute(override?.subject ?? builtin.subject, vars, plain).replace(/[\r\n]+/g, " ");
  return {
    subject,
    html: substitute(override?.html === undefined ? builtin.html : readTemplate(override.html), vars, escapeHtml),
    text: substitute(override?.text === undefined ? builtin.text : readTemplate(override.text), vars, plain),
  };
}

/** The SMS text: `auth.smsTemplate` with {{code}} (or GoTrue's {{ .Code }}) replaced. */
export function renderSms(code: string, config: Config): string {
  // A function replacement, so a "$&" in the code could never be read as a pattern.
  return config.auth.smsTemplate.replace(SMS_CODE, () => code);
}

const SMS_CODE = /\{\{\s*(?:code|\.Code)\s*\}\}/g;

/** True when an SMS template would carry the code (checked by validateSms). */
export function smsTemplateHasCode(template: string): boolean {
  return template.search(SMS_CODE) !== -1;
}

/**
 * Problems with `auth.templates`, one line each, for startup: unreadable files and placeholders
 * Plinth cannot fill (e.g. GoTrue's {{ .Data }} or {{ if }} actions, which
 * would otherwise reach users verbatim).
 */
export function validateTemplates(config: Config): string[] {
  const problems: string[] = [];
  for (const kind of EMAIL_KINDS) {
    const override = config.auth.templates[kind];
    if (override === undefined) continue;
    const where = `auth.templates.${kind}`;
    if (override.subject !== undefined) problems.push(...unknownPlaceholders(`${where}.subject`, override.subject));
    for (const field of ["html", "text"] as const) {
      const path = override[field];
      if (path === undefined) continue;
      let body: string;
      try {
        body = readTemplateFile(path);
      } catch (e) {
        problems.push(`${where}.${field}: cannot read ${resolve(path)} (${errorCode(e)})`);
        continue;
      }
      if (body.trim() === "") problems.push(`${where}.${field}: ${resolve(path)} is empty`);
      problems.push(...unknownPlaceholders(`${where}.${field}`, body));
    }
  }
  return problems;
}

function unknownPlaceholders(where: string, template: string): string[] {
  const unknown = new Set<string>();
  // Anything between braces that is not one of our placeholders: misspelt names, and GoTrue
  // template logic we don't run ({{ if .Data }}, {{ .Data.name }}).
  for (const [whole] of template.matchAll(/\{\{[^}]*\}\}/g)) {
    const name = PLACEHOLDER_EXACT.exec(whole)?.[1];
    if (name === undefined || !EMAIL_PLACEHOLDERS.has(name)) unknown.add(whole);
  }
  const known = [...EMAIL_PLACEHOLDERS.keys()].map((k) => `{{ ${k} }}`).join(", ");
  return [...unknown].map((p) => `${where}: unknown placeholder ${p} (known: ${known})`);
}

function substitute(template: string, vars: EmailVars, encode: (s: string) => string): string {
  return template.replace(PLACEHOLDER, (whole, name: string) => {
    const resolveValue = EMAIL_PLACEHOLDERS.get(name);
    if (resolveValue === undefined) return whole; // validateTemplates reports these at startup
    const value = resolveValue(vars);
    if (value === undefined) {
      throw new DeliveryError("email", new Error(`template uses ${whole} but no value was supplied`));
    }
    return encode(value);
  });
}

/**
 * Read on every render rather than cached: auth mails are rare (rate-limited per address), the
 * files are small, and edits take effect without a restart or a cache to invalidate. Relative
 * paths resolve against the process's working directory (loadConfig does not resolve these yet).
 */
function readTemplate(path: string): string {
  try {
    return readTemplateFile(path);
  } catch (e) {
    throw new DeliveryError("email", new Error(`cannot read template ${resolve(path)} (${errorCode(e)})`));
  }
}

function readTemplateFile(path: string): string {
  return readFileSync(resolve(path), "utf8");
}

function errorCode(e: unknown): string {
  if (e && typeof e === "object" && "code" in e && typeof e.code === "string") return e.code;
  return e instanceof Error ? e.message : String(e);
}

const plain = (s: string) => s;

const HTML_ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c);
}
