// account: the signed-in admin's own TOTP factor — enrol (the otpauth:// QR code drawn with block
// characters beside the secret as text, then a code from the authenticator, then the recovery codes
// shown once), or unenrol with a fresh code. MfaEnrol is also the enrolment the sign-in leads to
// where the server requires MFA (shell/App.tsx), so it uses no shell state: its keys are its own.
import { Box, Text, useInput } from "ink";
import { useEffect, useState } from "react";
import { errorLine } from "../api/client.ts";
import type { MfaEnrolment } from "../api/types.ts";
import { ErrorText, Loading } from "../components/Message.tsx";
import { LineInput } from "../components/LineInput.tsx";
import { qrText } from "../lib/qr-text.ts";
import { tone } from "../lib/theme.ts";
import { useHints, useNav } from "../state/nav.tsx";
import { useSession } from "../state/session.tsx";
import { useCapture } from "../state/use-list.ts";
import { useLoad } from "../state/use-load.ts";
import type { ScreenProps } from "../shell/screens.ts";

/** Columns the text beside the QR code needs (the secret in groups of four, two lines). */
const SIDE = 24;

/** "ABCD EFGH …" in lines of at most `per` groups. */
export function secretLines(secret: string, per = 4): string[] {
  const groups = secret.match(/.{1,4}/g) ?? [];
  const lines: string[] = [];
  for (let i = 0; i < groups.length; i += per) lines.push(groups.slice(i, i + per).join(" "));
  return lines;
}

/** How the QR code fits: beside the text, above it, or not at all (then the size it needs). */
export function qrLayout(qr: string[], width: number, height: number): "side" | "stack" | { need: string } {
  const w = [...(qr[0] ?? "")].length;
  const h = qr.length;
  if (width >= w + 2 + SIDE && height >= h) return "side";
  if (width >= w && height >= h + 7) return "stack";
  return { need: `${w + 2 + SIDE}×${h + 3}` };
}

export interface MfaEnrolProps {
  width: number;
  height: number;
  start(): Promise<MfaEnrolment>;
  /** Checks the code; the recovery codes it made. */
  verify(factorId: string, code: string): Promise<{ recovery_codes: string[] }>;
  /** After the recovery codes were shown (Enter), or Esc before verifying. */
  onDone(enrolled: boolean): void;
}

export function MfaEnrol({ width, height, start, verify, onDone }: MfaEnrolProps) {
  const [enrolment, setEnrolment] = useState<MfaEnrolment | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [code, setCode] = useState("");
  const [busy, setBusy] = useState(false);
  const [codes, setCodes] = useState<string[] | null>(null);

  // biome-ignore lint/correctness/useExhaustiveDependencies: one enrolment per mount.
  useEffect(() => {
    start().then(setEnrolment, setError);
  }, []);

  useInput((_input, key) => {
    if (codes && key.return) onDone(true);
    else if (!codes && key.escape) onDone(false);
  });

  const submit = async (value: string) => {
    if (!enrolment || busy) return;
    setBusy(true);
    setError(null);
    try {
      setCodes((await verify(enrolment.factor_id, value.trim())).recovery_codes);
    } catch (err) {
      setError(err);
      setCode("");
    } finally {
      setBusy(false);
    }
  };

  if (codes) {
    const half = Math.ceil(codes.length / 2);
    return (
      <Box flexDirection="column">
        <Text bold color={tone("ok")}>
          TOTP enrolled. Your recovery codes:
        </Text>
        <Text> </Text>
        {codes.slice(0, half).map((c, i) => (
          <Text key={c}>
            {"  "}
            {c}
            {"    "}
            {codes[i + half] ?? ""}
          </Text>
        ))}
        <Text> </Text>
        <Text bold color={tone("warn")} wrap="wrap">
          Store these now: they are shown only this once. Each signs in once in place of a code.
        </Text>
        <Text color={tone("muted")}>Enter when stored</Text>
      </Box>
    );
  }
  if (!enrolment) return error ? <ErrorText error={error} /> : <Loading what="Starting the enrolment" />;

  const qr = qrText(enrolment.otpauth_uri, "L");
  const layout = qrLayout(qr, width, height);
  const side = (
    <Box flexDirection="column" width={layout === "side" ? Math.max(SIDE, width - [...(qr[0] ?? "")].length - 2) : width}>
      <Text bold color={tone("title")}>
        Enrol TOTP
      </Text>
      <Text wrap="wrap">Scan the code with an authenticator app, or type this secret:</Text>
      {secretLines(enrolment.secret).map((l) => (
        <Text key={l} bold>
          {l}
        </Text>
      ))}
      <Text> </Text>
      <Text>Code from the app:</Text>
      <LineInput value={code} onChange={setCode} onSubmit={submit} placeholder="6 digits" />
      {busy ? <Text color={tone("muted")}>Checking…</Text> : null}
      {error ? (
        <Text color={tone("danger")} wrap="wrap">
          {errorLine(error)}
        </Text>
      ) : null}
      <Text color={tone("muted")}>Enter check · Esc cancel</Text>
    </Box>
  );
  if (typeof layout === "object") {
    return (
      <Box flexDirection="column">
        <Text color={tone("warn")} wrap="wrap">
          Enlarge the terminal to at least {layout.need} to see the QR code, or type the secret.
        </Text>
        {side}
      </Box>
    );
  }
  const drawn = (
    <Box flexDirection="column" flexShrink={0}>
      {qr.map((l, i) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: rows of a picture.
        <Text key={i} wrap="truncate">
          {l}
        </Text>
      ))}
    </Box>
  );
  return layout === "side" ? (
    <Box flexDirection="row" gap={2}>
      {drawn}
      {side}
    </Box>
  ) : (
    <Box flexDirection="column">
      {drawn}
      {side}
    </Box>
  );
}

type Mode = "status" | "enrol" | "unenrol";

export function Account({ width, height }: ScreenProps) {
  const { client, who } = useSession();
  const nav = useNav();
  const [mode, setMode] = useState<Mode>("status");
  const [code, setCode] = useState("");
  const [error, setError] = useState<unknown>(null);
  const hasAccount = !!who.admin;
  const status = useLoad(() => client.mfaStatus(), [], { enabled: hasAccount });
  useCapture(mode !== "status");
  const enrolled = status.data?.enrolled ?? false;
  useHints(mode !== "status" ? [] : enrolled ? [{ key: "d", label: "unenrol" }] : [{ key: "e", label: "enrol TOTP" }]);
  useInput(
    (input, key) => {
      if (mode === "unenrol" && key.escape) {
        setMode("status");
        setCode("");
        setError(null);
      }
      if (mode !== "status" || nav.mode !== "normal" || !status.data) return;
      if (input === "e" && !enrolled) setMode("enrol");
      else if (input === "d" && enrolled) setMode("unenrol");
    },
    { isActive: hasAccount },
  );

  if (!hasAccount) return <Text color={tone("muted")}>This identity (a key or emergency access) has no account, so no second factor.</Text>;
  if (mode === "enrol") {
    return (
      <MfaEnrol
        width={width}
        height={height}
        start={() => client.mfaEnroll()}
        verify={(f, c) => client.mfaVerify(f, c)}
        onDone={(ok) => {
          setMode("status");
          if (ok) nav.say("TOTP enrolled: sign-ins now ask for a code");
          status.reload();
        }}
      />
    );
  }
  if (!status.data) return status.error ? <ErrorText error={status.error} /> : <Loading />;
  const s = status.data;
  return (
    <Box flexDirection="column">
      <Text bold>{who.admin?.email ?? who.admin?.id}</Text>
      {s.enrolled ? (
        <Text>
          TOTP: <Text color={tone("ok")}>enrolled</Text> · {s.recovery_codes_left} recovery code(s) left
        </Text>
      ) : (
        <Text>
          TOTP: <Text color={tone(s.required ? "danger" : "warn")}>not enrolled</Text>
          {s.required ? " · this server requires it: the next sign-in will ask you to enrol" : ""}
        </Text>
      )}
      {mode === "unenrol" ? (
        <Box flexDirection="column" marginTop={1}>
          <Text>Unenrol: a fresh code from the app (or a recovery code), Enter · Esc cancel</Text>
          <LineInput
            value={code}
            onChange={setCode}
            onSubmit={async (v) => {
              try {
                await client.mfaUnenroll(v.trim());
                setMode("status");
                setCode("");
                setError(null);
                nav.say("TOTP removed from this account", "warn");
                status.reload();
              } catch (err) {
                setError(err);
                setCode("");
              }
            }}
          />
          {error ? <Text color={tone("danger")}>{errorLine(error)}</Text> : null}
        </Box>
      ) : null}
    </Box>
  );
}
