// Mail and SMS for auth flows. Messages are sent after the database work committed; when a send
// fails, the flow's `undo` removes what it created (the new user, the code) before the error goes
// back to the client, so nothing half-made is left behind.
import { renderEmail, renderSms, type EmailKind } from "../delivery/index.ts";
import type { AuthContext, Client } from "./context.ts";
import { AuthErrors } from "./errors.ts";
import type { IssuedToken, VerifyType } from "./otp.ts";

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
  token: IssuedToken;
  type: VerifyType;
  redirectTo: string;
  newEmail?: string;
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
  const rendered = renderEmail(
    req.kind,
    {
      siteUrl: ctx.config.auth.siteUrl,
      actionLink: actionLink(client, req.token.linkToken, req.type, req.redirectTo),
      code: req.token.code,
      email: req.to,
      newEmail: req.newEmail,
      redirectTo: req.redirectTo,
      tokenHash: req.token.linkToken,
    },
    ctx.config,
  );
  await runOrUndo(ctx, () => mailer.send({ to: req.to, ...rendered }), undo);
}

/** Sends the code by SMS to an E.164 number; returns the provider's message id when it gave one. */
export async function sendSms(ctx: AuthContext, e164: string, code: string, undo: () => Promise<unknown>): Promise<string | undefined> {
  const sms = ctx.sms;
  if (!sms) {
    await undo();
    throw AuthErrors.phoneProviderDisabled();
  }
  const res = await runOrUndo(ctx, () => sms.send({ to: e164, body: renderSms(code, ctx.config) }), undo);
  return res.messageId;
}
