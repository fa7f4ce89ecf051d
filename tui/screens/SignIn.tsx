// Signing in: the server URL (remembered ones cycle with Tab on that field), email or username and
// password, then — when the account has MFA — a TOTP code or a recovery code. The server's answer
// is shown as it is: wrong credentials, a rate limit, an MFA enrolment the account still needs.
import { Box, Text, useInput } from "ink";
import { useState } from "react";
import { AdminClient, ApiError, errorLine, normaliseUrl } from "../api/client.ts";
import type { LoginReply, Whoami } from "../api/types.ts";
import { LineInput } from "../components/LineInput.tsx";
import { tone } from "../lib/theme.ts";

export interface SignedIn {
  client: AdminClient;
  who: Whoami;
  /** The admin session token (to end it on quit); null for a key. */
  sessionToken: string | null;
}

type Step = "url" | "identifier" | "password" | "code";

export function SignIn({
  url,
  servers,
  onSignedIn,
  makeClient,
  onEnrolmentRequired,
  notice = null,
}: {
  url: string;
  servers: string[];
  /** A line to show above the form (why the sign-in starts again). */
  notice?: string | null;
  onSignedIn(s: SignedIn): void;
  makeClient?: (url: string) => AdminClient;
  /** The server requires MFA and the account has none: enrol with this token (shell/App.tsx). */
  onEnrolmentRequired?(client: AdminClient, enrollmentToken: string): void;
}) {
  const [server, setServer] = useState(url);
  const [identifier, setIdentifier] = useState("");
  const [password, setPassword] = useState("");
  const [code, setCode] = useState("");
  const [step, setStep] = useState<Step>("identifier");
  const [challenge, setChallenge] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [enrol, setEnrol] = useState(false);

  const client = () => (makeClient ?? ((u: string) => new AdminClient({ url: u })))(normaliseUrl(server));

  const finish = async (c: AdminClient, reply: LoginReply) => {
    if ("mfa_required" in reply) {
      setChallenge(reply.challenge_token);
      setStep("code");
      setBusy(false);
      return;
    }
    const signed = c.withToken(reply.session_token);
    const who = await signed.whoami();
    onSignedIn({ client: signed, who, sessionToken: reply.session_token });
  };

  // The field's value comes with the submit: typed text and Enter may arrive in one read, before
  // this component saw the text in its state.
  const submit = async (value: string) => {
    setError(null);
    setEnrol(false);
    if (step === "url") return setStep("identifier");
    if (step === "identifier") return value.trim() ? setStep("password") : setError("Type an email or a username");
    if (busy) return;
    setBusy(true);
    const c = client();
    try {
      if (step === "password") await finish(c, await c.login(identifier.trim(), value));
      else if (step === "code" && challenge) await finish(c, await c.mfa(challenge, value.trim()));
    } catch (err) {
      setBusy(false);
      if (err instanceof ApiError && err.code === "mfa_enrollment_required") {
        const token = (err.details as { enrollment_token?: unknown } | undefined)?.enrollment_token;
        if (typeof token === "string" && onEnrolmentRequired) return onEnrolmentRequired(c, token);
        setEnrol(true);
      }
      setError(errorLine(err));
      if (err instanceof ApiError && (err.code === "invalid_challenge" || err.code === "invalid_credentials")) {
        setPassword("");
        setCode("");
        setChallenge(null);
        setStep("password");
      } else if (step === "code") setCode("");
    }
  };

  useInput((_input, key) => {
    if (key.escape && step !== "identifier") {
      setError(null);
      setStep(step === "code" ? "password" : step === "password" ? "identifier" : "identifier");
    }
  });

  const field = (label: string, s: Step, node: React.ReactNode) => (
    <Box>
      <Text bold={step === s} color={step === s ? tone("accent") : undefined}>
        {label.padEnd(10)}
      </Text>
      {node}
    </Box>
  );

  return (
    <Box flexDirection="column" paddingX={1}>
      <Text bold color={tone("title")}>
        Plinth console · sign in
      </Text>
      <Text> </Text>
      {notice && !error ? (
        <Text color={tone("warn")} wrap="wrap">
          {notice}
        </Text>
      ) : null}
      {field(
        "Server",
        "url",
        <LineInput
          value={server}
          active={step === "url"}
          onChange={setServer}
          onSubmit={submit}
          onTab={() => servers.length && setServer(servers[(servers.indexOf(server) + 1) % servers.length]!)}
          onDown={() => setStep("identifier")}
        />,
      )}
      {field(
        "Email",
        "identifier",
        <LineInput
          value={identifier}
          active={step === "identifier"}
          onChange={setIdentifier}
          onSubmit={submit}
          onUp={() => setStep("url")}
          placeholder="email or username"
        />,
      )}
      {step === "password" || step === "code"
        ? field("Password", "password", <LineInput value={password} mask active={step === "password"} onChange={setPassword} onSubmit={submit} />)
        : null}
      {step === "code"
        ? field("Code", "code", <LineInput value={code} active onChange={setCode} onSubmit={submit} placeholder="6-digit TOTP code or a recovery code" />)
        : null}
      <Text> </Text>
      {busy ? <Text color={tone("muted")}>Signing in…</Text> : null}
      {error ? <Text color={tone("danger")}>{error}</Text> : null}
      {enrol ? (
        <Text color={tone("warn")} wrap="wrap">
          This server requires a verified TOTP factor for admins. Enrol one (see the README, "Administering Plinth"), or start the console with --key.
        </Text>
      ) : null}
      <Text color={tone("muted")}>Enter next · ↑ server (Tab: remembered servers) · Esc back · Ctrl+C quit</Text>
    </Box>
  );
}
