// The console's root: sign in (unless a key was given) — enrolling TOTP first where the server
// requires it and the account has none — then the shell with the first screen this identity may
// open. Everything the screens reach goes through the session's AdminClient.
import { Box, Text, useWindowSize } from "ink";
import { useRef, useState } from "react";
import type { AdminClient } from "../api/client.ts";
import type { Whoami } from "../api/types.ts";
import { ErrorText } from "../components/Message.tsx";
import type { ConsoleStore } from "../lib/config-store.ts";
import { tone } from "../lib/theme.ts";
import { NavProvider } from "../state/nav.tsx";
import { SessionProvider } from "../state/session.tsx";
import { MfaEnrol } from "../screens/Account.tsx";
import { SignIn, type SignedIn } from "../screens/SignIn.tsx";
import { Shell } from "./Shell.tsx";
import { topScreens } from "./screens.ts";

export interface AppProps {
  url: string;
  store: ConsoleStore;
  /** Signed in already (a service key): skip the sign-in screen. */
  signedIn?: SignedIn | null;
  /** The screen to open first (default: the first this identity may open). */
  initialScreen?: string;
  makeClient?: (url: string) => AdminClient;
  onSignedIn?(s: SignedIn): void;
  onQuit(): void;
}

export function App({ url, store, signedIn = null, initialScreen, makeClient, onSignedIn, onQuit }: AppProps) {
  const [session, setSession] = useState<SignedIn | null>(signedIn);
  const [enrolling, setEnrolling] = useState<{ client: AdminClient; token: string } | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const signIn = (s: SignedIn) => {
    store.rememberServer(s.client.url);
    onSignedIn?.(s);
    setSession(s);
  };
  if (!session && enrolling) {
    return (
      <EnrolAtSignIn
        {...enrolling}
        onSignedIn={signIn}
        onCancel={() => {
          setEnrolling(null);
          setNotice("Enrolment cancelled: this server requires TOTP for admins, so sign in again to enrol.");
        }}
      />
    );
  }
  if (!session) {
    return (
      <SignIn
        url={url}
        servers={store.servers()}
        makeClient={makeClient}
        notice={notice}
        onSignedIn={signIn}
        onEnrolmentRequired={(client, token) => setEnrolling({ client, token })}
      />
    );
  }
  return <Console client={session.client} who={session.who} store={store} initialScreen={initialScreen} onQuit={onQuit} />;
}

function Console({
  client,
  who,
  store,
  initialScreen,
  onQuit,
}: {
  client: AdminClient;
  who: Whoami;
  store: ConsoleStore;
  initialScreen?: string;
  onQuit(): void;
}) {
  const caps = new Set(who.capabilities);
  const can = (c: string) => c === "signed_in" || caps.has(c);
  const screens = topScreens(can);
  const first = screens.find((s) => s.name === initialScreen) ?? screens[0];
  if (!first) {
    return (
      <Box>
        <Text color={tone("danger")}>This identity may open no screen of the console.</Text>
      </Box>
    );
  }
  return (
    <SessionProvider client={client} who={who} store={store}>
      <NavProvider initial={{ name: first.name }} onQuit={onQuit}>
        <Shell />
      </NavProvider>
    </SessionProvider>
  );
}

/**
 * The server requires MFA and the account has none: the password earned an enrolment token, which
 * enrols a TOTP factor (the QR code and the secret, then a code from the app) and, once verified,
 * is the sign-in: the answer carries the session and the recovery codes, shown once before the
 * console opens.
 */
function EnrolAtSignIn({ client, token, onSignedIn, onCancel }: { client: AdminClient; token: string; onSignedIn(s: SignedIn): void; onCancel(): void }) {
  const { columns, rows } = useWindowSize();
  const signed = useRef<SignedIn | null>(null);
  const [error, setError] = useState<unknown>(null);
  return (
    <Box flexDirection="column" paddingX={1}>
      <Text bold color={tone("title")} wrap="truncate">
        Plinth console · this server requires TOTP for admins: enrol to sign in
      </Text>
      <MfaEnrol
        width={Math.max(20, columns - 2)}
        height={Math.max(6, rows - 2)}
        start={() => client.enrolAtSignIn(token)}
        verify={async (factorId, code) => {
          const reply = await client.verifyAtSignIn(token, factorId, code);
          const c = client.withToken(reply.session_token);
          signed.current = { client: c, who: await c.whoami(), sessionToken: reply.session_token };
          return reply;
        }}
        onDone={(enrolled) => {
          if (!enrolled) return onCancel();
          if (signed.current) onSignedIn(signed.current);
          else setError(new Error("The enrolment finished without a session"));
        }}
      />
      {error ? <ErrorText error={error} /> : null}
    </Box>
  );
}
