// The console's root: sign in (unless a key was given), then the shell with the first screen this
// identity may open. Everything the screens reach goes through the session's AdminClient.
import { Box, Text } from "ink";
import { useState } from "react";
import type { AdminClient } from "../api/client.ts";
import type { Whoami } from "../api/types.ts";
import type { ConsoleStore } from "../lib/config-store.ts";
import { tone } from "../lib/theme.ts";
import { NavProvider } from "../state/nav.tsx";
import { SessionProvider } from "../state/session.tsx";
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
  if (!session) {
    return (
      <SignIn
        url={url}
        servers={store.servers()}
        makeClient={makeClient}
        onSignedIn={(s) => {
          store.rememberServer(s.client.url);
          onSignedIn?.(s);
          setSession(s);
        }}
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
