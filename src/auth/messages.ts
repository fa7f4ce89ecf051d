// Mail and SMS for auth flows. Messages are sent after the database work committed; when a send
// fails, the flow's `undo` removes what it created (the new user, the code) before the error goes
// back to the client, so nothing half-made is left behind.
import { escapeHtml, renderEmail, renderSms, type EmailKind } from "../delivery/index.ts";
import type { AuthContext, Client } from "./context.ts";
import { AuthErrors } from "./errors.ts";
import { toE164 } from "./input.ts";
import type { IssuedToken, VerifyType } from "./otp.ts";
import { isHookMailer, isHookSmsSender } from "./hooks/delivery.ts";

export function actionLink(client: Client, token: string, type: VerifyType, redirectTo: string): string {
  const q = new URLSearchParams({ token, type, redirect_to: redirectTo });
  return `${client.apiBase}/auth/v1/verify?${q.toString()}`;
}

/** Fails early (before any database work) when a flow would need mail or SMS that is not configured. */
export function requireMailer(ctx: AuthContext): void {
  if (!ctx.mailer) throw AuthErrors.emailProviderDisabled();
}

export function requireSms(ctx: AuthContext): void {
  if (!ctx.sms) throw AuthErrors.phoneProviderDisabled();
}

export interface EmailRequest {
  kind: EmailKind;
  to: string;
  /** The account's address, GoTrue's {{ .Email }} (default `to`); an email change mails both addresses. */
  email?: string;
  token: IssuedToken;
  type: VerifyType;
  redirectTo: string;
  newEmail?: string;
  /** Secure email change through the send_email hook: the current address's token, sent in the same call. */
  currentToken?: IssuedToken;
}

async function runOrUndo<T>(ctx: AuthContext, send: () => Promise<T>, undo: () => Promise<unknown>): Promise<T> {
  try {
    return await send();
  } catch (err) {
    try {
      await undo();
    } catch (undoErr) {
      ctx.log.error("auth: undo after failed delivery failed", { error: undoErr });
    }
    ctx.log.warn("auth: delivery failed", { error: err, cause: err instanceof Error ? err.cause : undefined });
    throw err;
  }
}

export async function sendEmail(ctx: AuthContext, client: Client, req: EmailRequest, undo: () => Promise<unknown>): Promise<void> {
  const mailer = ctx.mailer;
  if (!mailer) {
    await undo();
    throw AuthErrors.emailProviderDisabled();
  }
  if (isHookMailer(mailer)) {
    // The hook renders the message itself from Supabase's fields (hooks/delivery.ts has the pairing).
    const [token, tokenHash] = req.currentToken ? [req.currentToken.code, req.token.linkToken] : [req.token.code, req.token.linkToken];
    const message = {
      actionType: req.type,
      accountEmail: req.email ?? req.to,
      token,
      tokenHash,
      tokenNew: req.currentToken ? req.token.code : undefined,
      tokenHashNew: req.currentToken?.linkToken,
      redirectTo: req.redirectTo,
      siteUrl: client.apiBase,
    };
    await runOrUndo(ctx, () => mailer.sendHookEmail(message), undo);
    return;
  }
  const rendered = renderEmail(
    req.kind,
    {
      siteUrl: ctx.config.auth.siteUrl,
      actionLink: actionLink(client, req.token.linkToken, req.type, req.redirectTo),
      code: req.token.code,
      email: req.email ?? req.to,
      newEmail: req.newEmail,
      redirectTo: req.redirectTo,
      tokenHash: req.token.linkToken,
    },
    ctx.config,
  );
  await runOrUndo(ctx, () => mailer.send({ to: req.to, ...rendered }), undo);
}

/**
 * The reauthentication mail (GoTrue's "Confirm reauthentication"): a code only, there is nothing to
 * follow. Built here because the delivery templates have no kind for it yet, so it cannot be
 * overridden from auth.templates.
 */
export function renderReauthenticationEmail(code: string): { subject: string; html: string; text: string } {
  const subject = "Confirm reauthentication";
  const ignore = "If you did not ask for this, you can ignore this email.";
  return {
    subject,
    html: `<!doctype html>
<html>
<head><meta charset="utf-8"><title>${subject}</title></head>
<body style="font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; color: #222; line-height: 1.5">
<h2>${subject}</h2>
<p>Enter this code: <strong style="font-size: 1.2em; letter-spacing: 2px">${escapeHtml(code)}</strong></p>
<p style="color: #777; font-size: 0.9em">${ignore}</p>
</body>
</html>
`,
    text: `${subject}

Enter this code: ${code}

${ignore}
`,
  };
}

export async function sendReauthenticationEmail(ctx: AuthContext, to: string, code: string, undo: () => Promise<unknown>): Promise<void> {
  const mailer = ctx.mailer;
  if (!mailer) {
    await undo();
    throw AuthErrors.emailProviderDisabled();
  }
  if (isHookMailer(mailer)) {
    const message = { actionType: "reauthentication", accountEmail: to, token: code, tokenHash: "", redirectTo: "", siteUrl: "" };
    await runOrUndo(ctx, () => mailer.sendHookEmail(message), undo);
    return;
  }
  const rendered = renderReauthenticationEmail(code);
  await runOrUndo(ctx, () => mailer.send({ to, ...rendered }), undo);
}

/**
 * Sends the code by SMS; returns the provider's message id when it gave one. `phone` may be the
 * stored form ("233241234567", as in auth.users.phone) or "+E.164": providers always get the
 * "+" form, which is all the delivery layer accepts.
 */
export async function sendSms(ctx: AuthContext, phone: string, code: string, undo: () => Promise<unknown>): Promise<string | undefined> {
  const e164 = phone.startsWith("+") ? phone : toE164(phone);
  const sms = ctx.sms;
  if (!sms) {
    await undo();
    throw AuthErrors.phoneProviderDisabled();
  }
  if (isHookSmsSender(sms)) {
    await runOrUndo(ctx, () => sms.sendHookSms(e164, code), undo);
    return undefined;
  }
  const res = await runOrUndo(ctx, () => sms.send({ to: e164, body: renderSms(code, ctx.config) }), undo);
  return res.messageId;
}
