// The built-in auth mails. Written in GoTrue's placeholder syntax so they read like the templates
// Supabase users already know, and so one substitution routine serves built-ins and overrides.
// Every mail carries both the link and the code: links break in some mail clients and on
// another device, codes always work.
import type { EmailKind } from "./templates.ts";

export interface BuiltinEmail {
  subject: string;
  html: string;
  text: string;
}

const IGNORE = "If you did not ask for this, you can ignore this email.";

function html(title: string, intro: string, button: string): string {
  return `<!doctype html>
<html>
<head><meta charset="utf-8"><title>${title}</title></head>
<body style="font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; color: #222; line-height: 1.5">
<h2>${title}</h2>
<p>${intro}</p>
<p><a href="{{ .ConfirmationURL }}" style="display: inline-block; padding: 10px 18px; background: #222; color: #fff; text-decoration: none; border-radius: 6px">${button}</a></p>
<p>Or enter this code: <strong style="font-size: 1.2em; letter-spacing: 2px">{{ .Token }}</strong></p>
<p style="color: #777; font-size: 0.9em">${IGNORE}</p>
</body>
</html>
`;
}

function text(title: string, intro: string): string {
  return `${title}

${intro}

{{ .ConfirmationURL }}

Or enter this code: {{ .Token }}

${IGNORE}
`;
}

function mail(subject: string, intro: string, button: string): BuiltinEmail {
  return { subject, html: html(subject, intro, button), text: text(subject, intro) };
}

export const BUILTIN_EMAILS: Record<EmailKind, BuiltinEmail> = {
  confirmation: mail("Confirm your email", "Follow this link to confirm your email address {{ .Email }}:", "Confirm your email"),
  magicLink: mail("Your sign-in link", "Follow this link to sign in as {{ .Email }}:", "Sign in"),
  recovery: mail("Reset your password", "Follow this link to reset the password of {{ .Email }}:", "Reset your password"),
  invite: mail(
    "You have been invited",
    "You have been invited to create an account on {{ .SiteURL }} as {{ .Email }}. Follow this link to accept the invitation:",
    "Accept the invitation",
  ),
  emailChange: mail(
    "Confirm your new email address",
    "Follow this link to confirm the change of your email address from {{ .Email }} to {{ .NewEmail }}:",
    "Confirm the change",
  ),
};
